/**
 * `tollgate config check <file>`: load the file exactly as the gateway would and report the
 * outcome as text. The CLI prints `output` and exits non-zero when `ok` is false.
 */
import { ConfigError } from './errors.js';
import { loadConfigFile, type LoadOptions } from './load.js';

export interface CheckResult {
  ok: boolean;
  /** `OK <file> (<n> routes, <m> upstreams, <k> issuers)`, or one line per error. No trailing newline. */
  output: string;
}

export function checkConfigFile(path: string, opts: Omit<LoadOptions, 'filePath'> = {}): CheckResult {
  try {
    const config = loadConfigFile(path, opts);
    const counts = `${config.routes.length} routes, ${Object.keys(config.upstreams).length} upstreams, ${Object.keys(config.issuers).length} issuers`;
    return { ok: true, output: `OK ${path} (${counts})` };
  } catch (err) {
    if (err instanceof ConfigError) return { ok: false, output: err.lines().join('\n') };
    throw err;
  }
}
