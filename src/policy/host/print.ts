/**
 * `print(x, …)`. As OPA does, each operand is collected as the set of its values (so an undefined operand prints
 * `<undefined>` instead of making the call undefined) and one line is printed per combination, prefixed with the
 * call's `file:row`. Strings print without quotes at the top level, everything else as OPA prints values. Lines go
 * to the loader's print sink (`LoadOptions.print`); the call itself always succeeds.
 */
import { regoString } from './sprintf.js';
import { RegoSet, type HostCatalogue, type RegoValue } from './types.js';

function lines(ops: RegoSet[], i: number, acc: string[], out: string[]): void {
  if (i === ops.length) { out.push(acc.join(' ')); return; }
  const op = ops[i] as RegoSet;
  if (op.items.length === 0) { lines(ops, i + 1, [...acc, '<undefined>'], out); return; }
  for (const v of op.items) lines(ops, i + 1, [...acc, typeof v === 'string' ? v : regoString(v)], out);
}

/** Not an OPA name: the code generator calls it for `print` (OPA's own lowering is `internal.print`). */
export const PRINT_BUILTIN = 'tollgate.print';

export const PRINT_BUILTINS: HostCatalogue = {
  [PRINT_BUILTIN]: {
    args: [['string'], ['array']],
    sets: true,
    maps: true,
    impl: ([loc, ops], ctx) => {
      const out: string[] = [];
      lines((ops as RegoValue[]).filter((o): o is RegoSet => o instanceof RegoSet), 0, [], out);
      for (const l of out) ctx.print?.(`${loc as string}: ${l}`);
      return true;
    },
  },
};
