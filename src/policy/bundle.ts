/**
 * OPA bundles: a gzipped tar with `/policy.wasm`, `/data.json` and `/.manifest`, the layout `opa build -t wasm`
 * writes (https://www.openpolicyagent.org/docs/management-bundles/#bundle-file-format). The tar (ustar) format is
 * written and read here, no dependency. Output is deterministic: sorted entries, mtime 0, uid/gid 0, fixed gzip
 * header (mtime 0, OS byte 3).
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { parse as parseYaml } from 'yaml';

/** Cap on the total uncompressed size of a bundle read by {@link readBundle}. */
export const MAX_BUNDLE_BYTES = 64 * 1024 * 1024;

export const WASM_PATH = '/policy.wasm';

export interface BundleManifest {
  revision?: string;
  roots?: string[];
  wasm?: { entrypoint: string; module: string }[];
  [key: string]: unknown;
}

export interface WriteBundleOptions {
  wasm: Uint8Array;
  /** Base document (`data`); default `{}`. */
  data?: unknown;
  /** Entrypoints as slash paths (`example/allow`). */
  entrypoints: string[];
  revision?: string;
}

export interface Bundle {
  wasm: Uint8Array;
  data: Record<string, unknown>;
  manifest: BundleManifest;
  entrypoints: string[];
  /** Things the reader ignored (signatures, Rego sources, …), one line each. */
  notes: string[];
}

export class BundleError extends Error {
  override name = 'BundleError';
}

// ---------------------------------------------------------------------------------------------------- tar writer

function octal(buf: Buffer, off: number, len: number, value: number): void {
  // len-1 octal digits, zero-padded, then NUL
  buf.write(value.toString(8).padStart(len - 1, '0') + '\0', off, len, 'ascii');
}

function tarHeader(name: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  const nameBytes = Buffer.from(name, 'utf8');
  if (nameBytes.length > 100) throw new BundleError(`tar entry name too long: ${name}`);
  nameBytes.copy(h, 0);
  octal(h, 100, 8, 0o644); // mode
  octal(h, 108, 8, 0); // uid
  octal(h, 116, 8, 0); // gid
  octal(h, 124, 12, size);
  octal(h, 136, 12, 0); // mtime
  h.fill(0x20, 148, 156); // checksum placeholder: spaces
  h.write('0', 156, 1, 'ascii'); // regular file
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return h;
}

function tar(entries: { name: string; body: Uint8Array }[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    parts.push(tarHeader(e.name, e.body.length), Buffer.from(e.body));
    const pad = (512 - (e.body.length % 512)) % 512;
    if (pad > 0) parts.push(Buffer.alloc(pad));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

/** Writes a bundle; the same input gives the same bytes. */
export function writeBundle(opts: WriteBundleOptions): Buffer {
  const manifest: BundleManifest = {
    revision: opts.revision ?? '',
    roots: [''],
    wasm: opts.entrypoints.map((entrypoint) => ({ entrypoint, module: WASM_PATH })),
  };
  const data = opts.data ?? {};
  if (data === null || typeof data !== 'object' || Array.isArray(data)) throw new BundleError('bundle data must be a JSON object');
  const gz = gzipSync(
    tar([
      { name: '/.manifest', body: Buffer.from(JSON.stringify(manifest), 'utf8') },
      { name: '/data.json', body: Buffer.from(JSON.stringify(data), 'utf8') },
      { name: WASM_PATH, body: opts.wasm },
    ]),
    { level: 9 },
  );
  gz[4] = gz[5] = gz[6] = gz[7] = 0; // MTIME
  gz[9] = 3; // OS = Unix, whatever the platform's zlib says
  return gz;
}

// ---------------------------------------------------------------------------------------------------- tar reader

interface TarFile {
  /** Normalised: leading `./` and `/` removed, no empty or `.` segments. */
  path: string;
  body: Buffer;
}

function cString(buf: Buffer, off: number, len: number): string {
  const end = buf.indexOf(0, off);
  return buf.toString('utf8', off, end === -1 || end > off + len ? off + len : end);
}

function parseOctal(buf: Buffer, off: number, len: number, what: string): number {
  // GNU base-256 encoding for large values
  if (((buf[off] ?? 0) & 0x80) !== 0) throw new BundleError(`tar ${what} uses base-256 encoding (entry too large)`);
  const s = cString(buf, off, len).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new BundleError(`invalid tar header: ${what} ${JSON.stringify(s)}`);
  return parseInt(s, 8);
}

function normalise(raw: string): string {
  if (raw.includes('\\')) throw new BundleError(`bundle entry name contains a backslash: ${raw}`);
  const segs = raw.split('/').filter((s) => s !== '' && s !== '.');
  if (segs.includes('..')) throw new BundleError(`bundle entry escapes the bundle root (path traversal): ${raw}`);
  return segs.join('/');
}

function parsePax(body: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let off = 0;
  while (off < body.length) {
    const sp = body.indexOf(0x20, off);
    if (sp === -1) break;
    const len = parseInt(body.toString('ascii', off, sp), 10);
    if (!(len > 0)) break;
    const rec = body.toString('utf8', sp + 1, off + len - 1);
    const eq = rec.indexOf('=');
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    off += len;
  }
  return out;
}

function untar(buf: Buffer): TarFile[] {
  const files: TarFile[] = [];
  let off = 0;
  let longName: string | undefined;
  let paxPath: string | undefined;
  while (off + 512 <= buf.length) {
    const h = buf.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const stored = parseOctal(h, 148, 8, 'checksum');
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : (h[i] as number);
    if (sum !== stored) throw new BundleError(`invalid tar header checksum at offset ${off} (not a tar.gz bundle?)`);
    let name = cString(h, 0, 100);
    if (h.toString('ascii', 257, 262) === 'ustar') {
      const prefix = cString(h, 345, 155);
      if (prefix !== '') name = `${prefix}/${name}`;
    }
    const size = parseOctal(h, 124, 12, 'size');
    const type = String.fromCharCode(h[156] ?? 0);
    const start = off + 512;
    if (start + size > buf.length) throw new BundleError(`truncated tar entry ${name}`);
    const body = buf.subarray(start, start + size);
    off = start + Math.ceil(size / 512) * 512;
    if (type === 'L') {
      longName = cString(body, 0, body.length);
      continue;
    }
    if (type === 'x') {
      paxPath = parsePax(body)['path'];
      continue;
    }
    if (type === 'g') continue;
    if (longName !== undefined) name = longName;
    if (paxPath !== undefined) name = paxPath;
    longName = paxPath = undefined;
    if (type === '5') continue; // directory
    if (type === '1' || type === '2') throw new BundleError(`bundle contains a ${type === '2' ? 'symbolic' : 'hard'} link, not allowed: ${name}`);
    if (type !== '0' && type !== '\0' && type !== '7') throw new BundleError(`bundle contains an unsupported tar entry type ${JSON.stringify(type)}: ${name}`);
    files.push({ path: normalise(name), body });
  }
  return files;
}

// ---------------------------------------------------------------------------------------------------- bundle reader

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function mergeAt(root: Record<string, unknown>, path: string[], value: unknown, file: string): void {
  let node = root;
  for (const key of path) {
    const next = node[key];
    if (next === undefined) node = node[key] = {};
    else if (isObject(next)) node = next;
    else throw new BundleError(`${file}: data conflicts with a non-object value at ${path.join('/')}`);
  }
  if (!isObject(value)) {
    if (path.length === 0) throw new BundleError(`${file}: root data must be a JSON object`);
    const parent = path.slice(0, -1).reduce<Record<string, unknown>>((n, k) => n[k] as Record<string, unknown>, root);
    const last = path[path.length - 1] as string;
    if (isObject(parent[last]) && Object.keys(parent[last] as object).length > 0) throw new BundleError(`${file}: data conflicts at ${path.join('/')}`);
    parent[last] = value;
    return;
  }
  for (const [k, v] of Object.entries(value)) {
    if (k in node) {
      const cur = node[k];
      if (isObject(cur) && isObject(v)) mergeAt(node, [k], v, file);
      else throw new BundleError(`${file}: data conflicts at ${[...path, k].join('/')}`);
    } else node[k] = v;
  }
}

/** Reads a bundle written by {@link writeBundle} or by `opa build -t wasm`. */
export function readBundle(buf: Uint8Array): Bundle {
  let raw: Buffer;
  try {
    raw = gunzipSync(buf, { maxOutputLength: MAX_BUNDLE_BYTES });
  } catch (e) {
    if (e instanceof RangeError || (e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new BundleError(`bundle is larger than ${MAX_BUNDLE_BYTES} bytes uncompressed`);
    }
    throw new BundleError(`bundle is not a valid gzip file: ${e instanceof Error ? e.message : String(e)}`);
  }
  const files = untar(raw);
  const byPath = new Map<string, Buffer>();
  for (const f of files) {
    if (byPath.has(f.path)) throw new BundleError(`bundle contains /${f.path} twice`);
    byPath.set(f.path, f.body);
  }
  const notes: string[] = [];
  let manifest: BundleManifest = {};
  const mf = byPath.get('.manifest');
  if (mf !== undefined) {
    try {
      const parsed: unknown = JSON.parse(mf.toString('utf8'));
      if (!isObject(parsed)) throw new Error('not an object');
      manifest = parsed as BundleManifest;
    } catch (e) {
      throw new BundleError(`/.manifest: invalid JSON manifest: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  const wasmEntries = Array.isArray(manifest.wasm) ? manifest.wasm : [];
  const modules = [...new Set(wasmEntries.map((w) => normalise(String(w.module))))];
  if (modules.length > 1) throw new BundleError(`bundle lists ${modules.length} wasm modules (${modules.map((m) => `/${m}`).join(', ')}); only one is supported`);
  const modulePath = modules[0] ?? normalise(WASM_PATH);
  const wasm = byPath.get(modulePath);
  if (wasm === undefined) throw new BundleError(`bundle has no /${modulePath}`);
  const entrypoints = wasmEntries.map((w) => String(w.entrypoint));
  const data: Record<string, unknown> = {};
  for (const path of [...byPath.keys()].sort()) {
    const body = byPath.get(path) as Buffer;
    const segs = path.split('/');
    const base = segs[segs.length - 1] as string;
    if (path === '.manifest' || path === modulePath) continue;
    if (base === 'data.json' || base === 'data.yaml' || base === 'data.yml') {
      let value: unknown;
      try {
        value = base === 'data.json' ? JSON.parse(body.toString('utf8')) : parseYaml(body.toString('utf8'));
      } catch (e) {
        throw new BundleError(`/${path}: invalid ${base === 'data.json' ? 'JSON' : 'YAML'}: ${e instanceof Error ? e.message : String(e)}`);
      }
      mergeAt(data, segs.slice(0, -1), value, `/${path}`);
    } else if (base === '.signatures.json') {
      notes.push(`/${path}: bundle signatures are not verified (ignored)`);
    } else if (base.endsWith('.rego')) {
      notes.push(`/${path}: Rego source ignored (the bundle's wasm module is evaluated)`);
    } else if (base.endsWith('.wasm')) {
      notes.push(`/${path}: wasm module not listed in the manifest, ignored`);
    } else {
      notes.push(`/${path}: ignored`);
    }
  }
  return { wasm: new Uint8Array(wasm), data, manifest, entrypoints, notes };
}
