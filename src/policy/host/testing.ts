/**
 * OPA's `test.sleep(duration)`: blocks the evaluation (OPA uses it to show that `time.now_ns` is fixed per query).
 * Evaluation runs on the gateway's event loop, so tollgate caps a sleep at one second and refuses longer ones.
 */
import { goParseDuration } from './time.js';
import { BuiltinError, type HostCatalogue } from './types.js';

const MAX_SLEEP_NS = 1_000_000_000n;
const cell = new Int32Array(new SharedArrayBuffer(4));

export const TESTING_BUILTINS: HostCatalogue = {
  'test.sleep': {
    args: [['string']],
    impl: ([d]) => {
      const ns = goParseDuration(d as string);
      if (ns > MAX_SLEEP_NS) throw new BuiltinError('durations over 1s are refused');
      if (ns > 0n) Atomics.wait(cell, 0, 0, Number(ns) / 1e6);
      return null;
    },
  },
};
