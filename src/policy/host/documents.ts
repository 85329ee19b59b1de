/**
 * Document built-ins over whole Rego values: `json.patch` (RFC 6902 with OPA's extensions: array-form paths whose
 * segments may address set members by value), `json.filter`, `json.remove`, `array.reverse`. They need sets, so
 * they are set-aware host built-ins (types.ts). Values are never mutated: every change copies the path to it.
 */
import { BuiltinError, RegoMap, RegoSet, type HostCatalogue, type RegoValue, type SetAwareBuiltin } from './types.js';

type Obj = { [key: string]: RegoValue };
type Seg = RegoValue;

const isObj = (v: RegoValue | undefined): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof RegoSet) && !(v instanceof RegoMap);

/** Canonical text of a value for equality (object keys and set members sorted). */
export function canonical(v: RegoValue): string {
  if (v instanceof RegoSet) return `<${v.items.map(canonical).sort().join(',')}>`;
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (isObj(v)) return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k] as RegoValue)}`).join(',')}}`;
  if (typeof v === 'bigint') return v.toString();
  return JSON.stringify(v);
}
const same = (a: RegoValue, b: RegoValue): boolean => canonical(a) === canonical(b);

/** RFC 6901 pointer (`""` = root) or OPA's array form (segments are values). */
function pathOf(p: RegoValue | undefined): Seg[] {
  if (typeof p === 'string') {
    if (p === '') return [];
    if (!p.startsWith('/')) throw new BuiltinError(`invalid JSON pointer ${JSON.stringify(p)}`);
    return p.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  }
  if (Array.isArray(p)) return p;
  throw new BuiltinError('path must be a string or an array');
}

/** Array index of segment `s` (RFC 6901: decimal, no leading zeros); `dash`: `-` means the end. */
function indexOf(s: Seg, len: number, dash: boolean): number {
  if (dash && s === '-') return len;
  let n: number;
  if (typeof s === 'string') {
    if (!/^(0|[1-9]\d*)$/.test(s)) throw new BuiltinError(`invalid array index ${JSON.stringify(s)}`);
    n = Number(s);
  } else if (typeof s === 'number' && Number.isInteger(s)) n = s;
  else throw new BuiltinError('invalid array index');
  if (n < 0 || n > (dash ? len : len - 1)) throw new BuiltinError(`array index ${n} out of range`);
  return n;
}

function child(v: RegoValue, s: Seg): RegoValue {
  if (isObj(v)) {
    if (typeof s !== 'string' || !(s in v)) throw new BuiltinError('path not found');
    return v[s] as RegoValue;
  }
  if (Array.isArray(v)) return v[indexOf(s, v.length, false)] as RegoValue;
  if (v instanceof RegoSet) {
    const m = v.items.find((x) => same(x, s));
    if (m === undefined) throw new BuiltinError('set member not found');
    return m;
  }
  throw new BuiltinError('path reaches into a scalar');
}

function get(doc: RegoValue, path: Seg[]): RegoValue {
  return path.reduce(child, doc);
}

/** A copy of `doc` with `fn` applied to the container holding the last segment. */
function update(doc: RegoValue, path: Seg[], fn: (parent: RegoValue, last: Seg) => RegoValue, throughSets: boolean): RegoValue {
  const [s, ...rest] = path as [Seg, ...Seg[]];
  if (rest.length === 0) return fn(doc, s);
  const c = child(doc, s);
  const nc = update(c, rest, fn, throughSets);
  if (isObj(doc)) return { ...doc, [s as string]: nc };
  if (Array.isArray(doc)) { const a = doc.slice(); a[indexOf(s, doc.length, false)] = nc; return a; }
  if (!throughSets) throw new BuiltinError('set members cannot be replaced in place');
  const set = doc as RegoSet;
  return new RegoSet([...set.items.filter((x) => !same(x, s)), nc]);
}

function add(doc: RegoValue | undefined, path: Seg[], value: RegoValue): RegoValue {
  if (path.length === 0) return value;
  if (doc === undefined) throw new BuiltinError('document is undefined');
  return update(doc, path, (p, s) => {
    if (isObj(p)) {
      if (typeof s !== 'string') throw new BuiltinError('object keys must be strings');
      return { ...p, [s]: value };
    }
    if (Array.isArray(p)) { const a = p.slice(); a.splice(indexOf(s, p.length, true), 0, value); return a; }
    if (p instanceof RegoSet) return p.items.some((x) => same(x, value)) ? p : new RegoSet([...p.items, value]);
    throw new BuiltinError('path reaches into a scalar');
  }, true);
}

function remove(doc: RegoValue | undefined, path: Seg[]): RegoValue | undefined {
  if (path.length === 0) return undefined;
  if (doc === undefined) throw new BuiltinError('document is undefined');
  return update(doc, path, (p, s) => {
    if (isObj(p)) {
      if (typeof s !== 'string' || !(s in p)) throw new BuiltinError('path not found');
      const { [s]: _gone, ...rest } = p;
      return rest;
    }
    if (Array.isArray(p)) { const a = p.slice(); a.splice(indexOf(s, p.length, false), 1); return a; }
    if (p instanceof RegoSet) {
      if (!p.items.some((x) => same(x, s))) throw new BuiltinError('set member not found');
      return new RegoSet(p.items.filter((x) => !same(x, s)));
    }
    throw new BuiltinError('path reaches into a scalar');
  }, false);
}

function replace(doc: RegoValue | undefined, path: Seg[], value: RegoValue): RegoValue {
  if (path.length === 0) return value;
  if (doc === undefined) throw new BuiltinError('document is undefined');
  return update(doc, path, (p, s) => {
    if (isObj(p)) {
      if (typeof s !== 'string' || !(s in p)) throw new BuiltinError('path not found');
      return { ...p, [s]: value };
    }
    if (Array.isArray(p)) { const a = p.slice(); a[indexOf(s, p.length, false)] = value; return a; }
    // a set member is its own key: it cannot be replaced by another value
    throw new BuiltinError('set members cannot be replaced');
  }, false);
}

function patchOne(doc: RegoValue | undefined, op: RegoValue): RegoValue | undefined {
  if (!isObj(op) || typeof op.op !== 'string' || op.path === undefined) throw new BuiltinError('invalid patch operation');
  const path = pathOf(op.path);
  const need = (k: string): RegoValue => {
    if (!(k in op)) throw new BuiltinError(`patch operation needs "${k}"`);
    return op[k] as RegoValue;
  };
  switch (op.op) {
    case 'add': return add(doc, path, need('value'));
    case 'remove': return remove(doc, path);
    case 'replace': { const v = need('value'); get(doc ?? (() => { throw new BuiltinError('document is undefined'); })(), path); return replace(doc, path, v); }
    case 'move': {
      const from = pathOf(need('from'));
      if (doc === undefined) throw new BuiltinError('document is undefined');
      if (path.length > from.length && from.every((s, i) => same(s, path[i] as Seg))) throw new BuiltinError('cannot move a value into its own child');
      const v = get(doc, from);
      return add(remove(doc, from), path, v);
    }
    case 'copy': {
      const from = pathOf(need('from'));
      if (doc === undefined) throw new BuiltinError('document is undefined');
      return add(doc, path, get(doc, from));
    }
    case 'test': {
      const v = need('value');
      if (doc === undefined || !same(get(doc, path), v)) throw new BuiltinError('test operation failed');
      return doc;
    }
    default: throw new BuiltinError(`unknown patch operation ${JSON.stringify(op.op)}`);
  }
}

/** Path lists (array or set of string pointers or segment arrays) as a trie; `true` marks a selected node. */
type Trie = Map<string, { seg: Seg; next: Trie | true }>;
function trieOf(paths: RegoValue): Trie {
  const list = paths instanceof RegoSet ? paths.items : Array.isArray(paths) ? paths : undefined;
  if (!list) throw new BuiltinError('paths must be an array or a set');
  const root: Trie = new Map();
  for (const p of list) {
    const segs = typeof p === 'string' ? p.replace(/^\//, '').split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~')) : Array.isArray(p) ? p : undefined;
    if (!segs) throw new BuiltinError('each path must be a string or an array');
    let t: Trie | true = root;
    for (const [i, s] of segs.entries()) {
      if (t === true) break;
      const k = canonical(s);
      const last = i === segs.length - 1;
      const cur: { seg: Seg; next: Trie | true } | undefined = t.get(k);
      if (!cur) { const next: Trie | true = last ? true : new Map(); t.set(k, { seg: s, next }); t = next; }
      else { if (last) cur.next = true; t = cur.next; }
    }
  }
  return root;
}

/** OPA's filter: keeps what the trie selects; array indices match string segments ("0"), set members by value. */
function filter(v: RegoValue, t: Trie): RegoValue {
  if (isObj(v)) {
    const out: Obj = {};
    for (const [k, x] of Object.entries(v)) { const e = t.get(canonical(k)); if (e) out[k] = e.next === true ? x : filter(x, e.next); }
    return out;
  }
  if (Array.isArray(v)) {
    const out: RegoValue[] = [];
    v.forEach((x, i) => { const e = t.get(canonical(String(i))); if (e) out.push(e.next === true ? x : filter(x, e.next)); });
    return out;
  }
  if (v instanceof RegoSet) {
    const out: RegoValue[] = [];
    for (const x of v.items) { const e = t.get(canonical(x)); if (e) out.push(e.next === true ? x : filter(x, e.next)); }
    return new RegoSet(out);
  }
  throw new BuiltinError('filter path reaches into a scalar');
}

/** Removes what the trie selects. */
function strip(v: RegoValue, t: Trie): RegoValue {
  if (isObj(v)) {
    const out: Obj = {};
    for (const [k, x] of Object.entries(v)) { const e = t.get(canonical(k)); if (!e) out[k] = x; else if (e.next !== true) out[k] = strip(x, e.next); }
    return out;
  }
  if (Array.isArray(v)) {
    const out: RegoValue[] = [];
    v.forEach((x, i) => { const e = t.get(canonical(String(i))); if (!e) out.push(x); else if (e.next !== true) out.push(strip(x, e.next)); });
    return out;
  }
  if (v instanceof RegoSet) {
    const out: RegoValue[] = [];
    for (const x of v.items) { const e = t.get(canonical(x)); if (!e) out.push(x); else if (e.next !== true) out.push(strip(x, e.next)); }
    return new RegoSet(out);
  }
  return v;
}

const b = (args: SetAwareBuiltin['args'], impl: SetAwareBuiltin['impl']): SetAwareBuiltin => ({ args, sets: true, impl });

export const DOCUMENT_BUILTINS: HostCatalogue = {
  // OPA: the patches apply atomically; if one fails the result is undefined (not an error)
  'json.patch': b([['any'], ['array']], ([doc, ops]) => {
    let cur: RegoValue | undefined = doc as RegoValue;
    try {
      for (const op of ops as RegoValue[]) cur = patchOne(cur, op);
    } catch (e) {
      if (e instanceof BuiltinError) return undefined;
      throw e;
    }
    return cur;
  }),
  'json.filter': b([['object'], ['array', 'set']], ([doc, paths]) => filter(doc as RegoValue, trieOf(paths as RegoValue))),
  'json.remove': b([['object'], ['array', 'set']], ([doc, paths]) => strip(doc as RegoValue, trieOf(paths as RegoValue))),
  'array.reverse': b([['array']], ([a]) => (a as RegoValue[]).slice().reverse()),
};
