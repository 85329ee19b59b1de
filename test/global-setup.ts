import { rmSync } from 'node:fs';
import { RUN_DIR } from './helpers/run-artifacts.js';

/** Clears the run's log and secret files; scripts/scan-test-logs.mjs reads them after the run. */
export function setup(): void {
  rmSync(RUN_DIR, { recursive: true, force: true });
}
