import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * Paths redacted on every log line. Secrets must not reach logs even when a developer logs a
 * whole request or header object by mistake (seed: "never log access tokens, client secrets,
 * authorization headers"). Computed once; pino compiles them at construction.
 */
export const REDACT_PATHS = [
  'authorization',
  'cookie',
  'token',
  'secret',
  'password',
  'headers.authorization',
  'headers.cookie',
  'headers["set-cookie"]',
  'headers["proxy-authorization"]',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'res.headers["set-cookie"]',
  '*.authorization',
  '*.cookie',
  '*.token',
  '*.access_token',
  '*.client_secret',
  '*.secret',
  '*.password',
  'resolvedSecret',
  '*.resolvedSecret',
  '*.*.resolvedSecret',
];

export function createLogger(
  opts: { level?: string; destination?: DestinationStream; base?: Record<string, unknown> } = {},
): Logger {
  return pino(
    {
      level: opts.level ?? 'info',
      base: opts.base ?? { service: 'tollgate' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    opts.destination,
  );
}
