import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../errors.js';

/**
 * Reads a request body whole, for routes whose policy decides on it. The bytes read are the bytes forwarded
 * (the forward stage sends this buffer), so the policy and the upstream can never see different bodies.
 * More than `maxBytes` is 413 before the excess is read (a declared Content-Length is checked first).
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) {
    return Promise.reject(new GatewayError('payload_too_large', { reason: 'policy_body_limit' }));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) {
        cleanup();
        req.pause();
        reject(new GatewayError('payload_too_large', { reason: 'policy_body_limit' }));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(new GatewayError('bad_request', { reason: 'body_read', cause: err }));
    };
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onError as () => void);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onError as () => void);
  });
}

/** `application/json` or any `application/<x>+json` (RFC 6839 §3.1), parameters allowed. */
export function isJsonContentType(value: string | undefined): boolean {
  if (value === undefined) return false;
  const type = value.split(';', 1)[0]!.trim().toLowerCase();
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}

// ignoreBOM: true keeps a leading BOM in the text, so the check below can refuse it.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Parses a JSON body for the policy, refusing what different parsers read differently (RFC 8259 §4 leaves duplicate
 * member names unpredictable; RFC 7493 I-JSON forbids them): a body whose duplicate `amount` the policy reads as 1
 * and the upstream as 1000000 would defeat any amount limit. Also refused: invalid UTF-8, a byte-order mark.
 * `__proto__` is an ordinary member name here: JSON.parse defines it as an own property, it never reaches a
 * prototype.
 */
export function parseJsonBody(bytes: Buffer): unknown {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new GatewayError('invalid_body', { reason: 'not_utf8', detail: 'The body is not valid UTF-8.' });
  }
  if (text.charCodeAt(0) === 0xfeff) throw new GatewayError('invalid_body', { reason: 'bom', detail: 'The body starts with a byte-order mark.' });
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new GatewayError('invalid_body', { reason: 'not_json', detail: 'The body is not valid JSON.' });
  }
  const dup = firstDuplicateKey(text);
  if (dup !== undefined) {
    throw new GatewayError('invalid_body', { reason: 'duplicate_key', detail: 'The body repeats a member name within one object.' });
  }
  // A number beyond double range parses to ±Infinity here, reaches the policy as null and means something else
  // again to the upstream's parser: refused like any other ambiguity (RFC 7493 §2.2).
  if (!allFinite(value)) {
    throw new GatewayError('invalid_body', { reason: 'number_out_of_range', detail: 'The body has a number outside the IEEE 754 double range.' });
  }
  return value;
}

function allFinite(v: unknown): boolean {
  if (typeof v === 'number') return Number.isFinite(v);
  if (Array.isArray(v)) return v.every(allFinite);
  if (v !== null && typeof v === 'object') return Object.values(v).every(allFinite);
  return true;
}

/**
 * Scans valid JSON text for an object that names a member twice. Only called on text JSON.parse accepted, so the
 * scanner can skip validation: it tracks strings (with escapes), object/array nesting and which string is a key.
 */
function firstDuplicateKey(text: string): string | undefined {
  // One set of names per open object; `null` for an open array.
  const stack: Array<Set<string> | null> = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const start = i + 1;
      let escaped = false;
      i++;
      for (; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) {
          escaped = true;
          i++;
        } else if (d === 0x22) break;
      }
      if (expectKey) {
        const raw = text.slice(start, i);
        // Escapes make "a" and "\u0061" the same name: compare decoded names.
        const name = escaped ? (JSON.parse(`"${raw}"`) as string) : raw;
        const names = stack[stack.length - 1]!;
        if (names.has(name)) return name;
        names.add(name);
        expectKey = false;
      }
    } else if (c === 0x7b /* { */) {
      stack.push(new Set());
      expectKey = true;
    } else if (c === 0x5b /* [ */) {
      stack.push(null);
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */) {
      expectKey = stack[stack.length - 1] instanceof Set;
    }
  }
  return undefined;
}
