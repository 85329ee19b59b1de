import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * Paths redacted on every log line. Secrets must not reach logs even when a developer logs a
 * request, header or config object by mistake (seed: "never log access tokens, client secrets,
 * authorization headers"). Explicit paths only: pino compiles them into straight-line code,
 * while a `*` wildcard walks every logged object and costs ~13 µs per line (measured), which
 * the access log cannot afford. The test suite scans every log line it produces for tokens.
 */
const SECRET_KEYS = ['authorization', 'cookie', 'set-cookie', 'proxy-authorization', 'token', 'access_token', 'client_secret', 'secret', 'resolvedSecret', 'password'];
const PARENTS = ['', 'headers.', 'req.headers.', 'res.headers.', 'request.headers.', 'issuer.', 'config.'];

export const REDACT_PATHS = PARENTS.flatMap((parent) => SECRET_KEYS.map((key) => (/^[a-z_]+$/i.test(key) ? `${parent}${key}` : `${parent}["${key}"]`)));

export function createLogger(
  opts: { level?: string; destination?: DestinationStream; base?: Record<string, unknown> } = {},
): Logger {
  return pino(
    {
      level: opts.level ?? 'info',
      base: opts.base ?? { service: 'tollgate' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: cachedIsoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    opts.destination,
  );
}

let lastMs = 0;
let lastStamp = '';

/** pino's isoTime formats a Date per line; under load many lines share a millisecond. */
function cachedIsoTime(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastStamp = `,"time":"${new Date(now).toISOString()}"`;
  }
  return lastStamp;
}

export interface BufferedStdout {
  stream: DestinationStream;
  /** Writes out what is buffered, synchronously (shutdown, fatal exit). */
  flush(): void;
}

/**
 * stdout for production: lines are collected and handed to pino's SonicBoom in batches of up
 * to 16 KiB, at least every 250 ms, instead of one blocking write(2) per line, which cost about
 * as much as building the access-log line (measured with the benchmark's CPU profile). Batching
 * here rather than with SonicBoom's `minLength` avoids its per-line re-measuring of the
 * accumulated string. Each batch is written synchronously (pino's default for stdout): a slow
 * log reader slows the gateway instead of growing an unbounded in-memory queue, and no write
 * goes through libuv's thread pool.
 */
export function createBufferedStdout(opts: { batchBytes?: number; flushEveryMs?: number } = {}): BufferedStdout {
  const sink = pino.destination({ dest: 1, sync: true });
  const limit = opts.batchBytes ?? 16_384;
  let parts: string[] = [];
  let size = 0;
  const drain = () => {
    if (parts.length === 0) return;
    const data = parts.length === 1 ? parts[0]! : parts.join('');
    parts = [];
    size = 0;
    sink.write(data);
  };
  const timer = setInterval(drain, opts.flushEveryMs ?? 250);
  timer.unref();
  const flush = () => {
    drain();
    try {
      sink.flushSync();
    } catch {
      // Nothing left to flush, or stdout is gone: nothing more can be done at exit.
    }
  };
  process.once('exit', flush);
  return {
    stream: {
      write(line: string) {
        parts.push(line);
        size += line.length;
        if (size >= limit) drain();
      },
    },
    flush,
  };
}
