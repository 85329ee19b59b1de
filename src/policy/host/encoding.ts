/**
 * Encoding built-ins with OPA's Go semantics (topdown/encoding.go, object.go, random.go): Go's url.QueryEscape and
 * url.Values, Go's encoding/json output (json.MarshalIndent), go-yaml v2 as used through sigs.k8s.io/yaml, Go's
 * strict-padding base64, object.union_n and rand.intn.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { parseAllDocuments } from 'yaml';
import { compareGoStrings, goFloatString } from './sprintf.js';
import { BuiltinError, BuiltinTypeError, type HostCatalogue, type HostValue } from './types.js';

type Obj = { [key: string]: HostValue };

function isObject(v: HostValue | undefined): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function typeName(v: HostValue | undefined): string {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'bigint') return 'number';
  return typeof v === 'object' ? 'object' : typeof v;
}

function str(v: HostValue | undefined, pos: number): string {
  if (typeof v !== 'string') throw new BuiltinTypeError(`operand ${pos} must be string but got ${typeName(v)}`);
  return v;
}

// ---------------------------------------------------------------------------------------------------------------
// URL query encoding (Go's net/url).

/** Go's url.QueryEscape: unreserved bytes stay, a space becomes '+', every other UTF-8 byte is %XX. */
export function queryEscape(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (c === ' ') out += '+';
    else out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/** Go's url.QueryUnescape: '+' is a space, and every '%' must start two hex digits. */
export function queryUnescape(s: string): string {
  const bytes: number[] = [];
  const raw = Buffer.from(s, 'utf8');
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i]!;
    if (b === 0x25) {
      const hex = raw.subarray(i + 1, i + 3).toString('latin1');
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) {
        throw new BuiltinError(`invalid URL escape ${JSON.stringify(raw.subarray(i, i + 3).toString('utf8'))}`);
      }
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else bytes.push(b === 0x2b ? 0x20 : b);
  }
  return Buffer.from(bytes).toString('utf8');
}

/** url.Values.Encode: keys in byte order, each value of a key in its order. */
function encodeObject(o: Obj): string {
  const parts: string[] = [];
  for (const k of Object.keys(o).sort(compareGoStrings)) {
    const v = o[k];
    const values = typeof v === 'string' ? [v] : Array.isArray(v) ? v : undefined;
    if (values === undefined || values.some((x) => typeof x !== 'string')) {
      throw new BuiltinTypeError('operand 1 values must be string, array[string], or set[string]');
    }
    for (const x of values) parts.push(`${queryEscape(k)}=${queryEscape(x as string)}`);
  }
  return parts.join('&');
}

/** url.ParseQuery: pairs split on '&' (a ';' is an error), the first error wins after the whole query is read. */
function decodeObject(q: string): Obj {
  const out: Record<string, string[]> = {};
  let firstError: Error | undefined;
  for (const pair of q.split('&')) {
    if (pair === '') continue;
    if (pair.includes(';')) { firstError ??= new BuiltinError('invalid semicolon separator in query'); continue; }
    const eq = pair.indexOf('=');
    const [rk, rv] = eq < 0 ? [pair, ''] : [pair.slice(0, eq), pair.slice(eq + 1)];
    try {
      const k = queryUnescape(rk);
      const v = queryUnescape(rv);
      (Object.hasOwn(out, k) ? out[k]! : (out[k] = [])).push(v);
    } catch (e) {
      if (!(e instanceof BuiltinError)) throw e;
      firstError ??= e;
    }
  }
  if (firstError) throw firstError;
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// JSON as Go's encoding/json writes it.

/** Go's JSON string: HTML-sensitive characters and U+2028/U+2029 escaped, control characters as \n, \u001f, … */
export function goJsonString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (cp < 0x20 || ch === '<' || ch === '>' || ch === '&' || cp === 0x2028 || cp === 0x2029) {
      out += '\\u' + cp.toString(16).padStart(4, '0');
    } else if (cp >= 0xd800 && cp <= 0xdfff) out += '\\ufffd';
    else out += ch;
  }
  return out + '"';
}

function jsonNumber(n: number | bigint): string {
  if (typeof n === 'bigint') return n.toString();
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return BigInt(n).toString();
  return String(n);
}

/** json.MarshalIndent(v, prefix, indent) (json.Marshal when `indent` is undefined). */
export function goJson(v: HostValue, prefix: string, indent: string | undefined, depth = 0): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'number' || typeof v === 'bigint') return jsonNumber(v);
  if (typeof v === 'string') return goJsonString(v);
  const entries = Array.isArray(v)
    ? v.map((x) => goJson(x, prefix, indent, depth + 1))
    : Object.keys(v).sort(compareGoStrings).map((k) => goJsonString(k) + (indent === undefined ? ':' : ': ') + goJson(v[k]!, prefix, indent, depth + 1));
  const [open, close] = Array.isArray(v) ? ['[', ']'] : ['{', '}'];
  if (entries.length === 0) return open + close;
  if (indent === undefined) return open + entries.join(',') + close;
  const inner = '\n' + prefix + indent.repeat(depth + 1);
  return open + inner + entries.join(',' + inner) + '\n' + prefix + indent.repeat(depth) + close;
}

/** json.marshal_with_options' options object (OPA reports a bad option as a type error). */
function marshalOptions(opts: HostValue | undefined): { pretty: boolean; prefix: string; indent: string } {
  let prefix = '';
  let indent = '\t';
  let implicit = false;
  let explicit: boolean | undefined;
  // OPA's compliance case marshal_with_options-nulled: null options pretty-print with the default tab indent
  if (opts === null || opts === undefined) return { pretty: true, prefix, indent };
  if (!isObject(opts)) throw new BuiltinTypeError(`operand 2 must be one of {object, null} but got ${typeName(opts)}`);
  // OPA walks the options in key order, so the first bad key reported is the smallest
  for (const k of Object.keys(opts).sort(compareGoStrings)) {
    const val = opts[k]!;
    if (val === null) {
      if (k !== 'prefix' && k !== 'indent' && k !== 'pretty') throw new BuiltinTypeError(`operand 2 object contained unknown key ${JSON.stringify(k)}`);
      continue;
    }
    if (k === 'prefix' || k === 'indent') {
      if (typeof val !== 'string') throw new BuiltinTypeError(`operand 2 ${JSON.stringify(k)} contained invalid type`);
      if (k === 'prefix') prefix = val;
      else indent = val;
      implicit = true;
    } else if (k === 'pretty') {
      if (typeof val !== 'boolean') throw new BuiltinTypeError(`operand 2 ${JSON.stringify(k)} contained invalid type`);
      explicit = val;
    } else throw new BuiltinTypeError(`operand 2 object contained unknown key ${JSON.stringify(k)}`);
  }
  return { pretty: explicit ?? implicit, prefix, indent };
}

function marshalWithOptions(v: HostValue, opts: HostValue | undefined): string {
  const o = marshalOptions(opts);
  // MarshalIndent does not prefix the first line; OPA adds it
  return o.pretty ? o.prefix + goJson(v, o.prefix, o.indent) : goJson(v, '', undefined);
}

// ---------------------------------------------------------------------------------------------------------------
// YAML as go-yaml v2 writes it (sigs.k8s.io/yaml's JSONToYAML).

/** go-yaml v2's map key order: runs of digits compare as numbers, letters before other characters. */
export function yamlKeyLess(a: string, b: string): boolean {
  const ar = [...a];
  const br = [...b];
  const isLetter = (c: string) => /\p{L}/u.test(c);
  const isDigit = (c: string | undefined) => c !== undefined && /\p{Nd}/u.test(c);
  for (let i = 0; i < ar.length && i < br.length; i++) {
    if (ar[i] === br[i]) continue;
    const al = isLetter(ar[i]!);
    const bl = isLetter(br[i]!);
    if (al && bl) return ar[i]!.codePointAt(0)! < br[i]!.codePointAt(0)!;
    if (al || bl) return bl;
    let an = 0n;
    let bn = 0n;
    if (ar[i] === '0' || br[i] === '0') {
      for (let j = i - 1; j >= 0 && isDigit(ar[j]); j--) {
        if (ar[j] !== '0') { an = 1n; bn = 1n; break; }
      }
    }
    let ai = i;
    let bi = i;
    for (; ai < ar.length && isDigit(ar[ai]); ai++) an = an * 10n + BigInt(Number(ar[ai]));
    for (; bi < br.length && isDigit(br[bi]); bi++) bn = bn * 10n + BigInt(Number(br[bi]));
    if (an !== bn) return an < bn;
    if (ai !== bi) return ai < bi;
    return ar[i]!.codePointAt(0)! < br[i]!.codePointAt(0)!;
  }
  return ar.length < br.length;
}

/** Strings YAML 1.1 would read as something else (go-yaml v2's resolve table and number syntax). */
const YAML_NON_STRING = new RegExp(
  '^(?:~|null|Null|NULL|y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF' +
  '|[-+]?\\.(?:inf|Inf|INF)|\\.(?:nan|NaN|NAN)|<<' +
  '|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\\.[0-9_]*)?' + // base 60
  '|[-+]?(?:0b[01_]+|0x[0-9a-fA-F_]+|0o?[0-7_]+|[0-9][0-9_]*)' +
  '|[-+]?(?:\\.[0-9_]+|[0-9][0-9_]*(?:\\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?' +
  '|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt ].*)?)$', // timestamps
);

function looksNonString(s: string): boolean {
  return s === '' || YAML_NON_STRING.test(s);
}

/** libyaml's analysis: may `s` be written plain in block context? */
function plainAllowed(s: string): boolean {
  if (s === '' || /^\s|\s$/.test(s)) return false;
  if (/^[,[\]{}#&*!|>'"%@`]/.test(s)) return false;
  if (/^[-?:](\s|$)/.test(s)) return false;
  if (/:(\s|$)|\s#/.test(s)) return false;
  if (s.startsWith('---') || s.startsWith('...')) return false;
  return !/[^\t\n\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]|\ufeff/u.test(s);
}

/** Where a scalar is written: the indentation of its continuation lines and the column it starts at. */
interface At { indent: string; column: number; breaks: boolean }

/** go-yaml v2 (libyaml) folds quoted and plain scalars at a space once a line passes 80 columns. */
const BEST_WIDTH = 80;

function yamlEscape(ch: string): string {
  const named: Record<string, string> = {
    '\0': '\\0', '\x07': '\\a', '\b': '\\b', '\t': '\\t', '\n': '\\n', '\v': '\\v', '\f': '\\f', '\r': '\\r',
    '\x1b': '\\e', '"': '\\"', '\\': '\\\\', '\x85': '\\N', '\xa0': '\\_', '\u2028': '\\L', '\u2029': '\\P',
  };
  const cp = ch.codePointAt(0)!;
  if (named[ch] !== undefined) return named[ch]!;
  if (cp < 0x20 || cp === 0x7f || cp === 0xfeff || (cp >= 0xd800 && cp <= 0xdfff)) {
    return cp <= 0xff ? '\\x' + cp.toString(16).toUpperCase().padStart(2, '0') : '\\u' + cp.toString(16).toUpperCase().padStart(4, '0');
  }
  return ch;
}

/** Writes a one-line scalar, breaking at single spaces past the best width (libyaml's write_plain/…_quoted). */
function yamlFold(s: string, style: 'plain' | 'single' | 'double', at: At): string {
  const chars = [...s];
  const quote = style === 'single' ? "'" : style === 'double' ? '"' : '';
  let out = quote;
  let col = at.column + quote.length;
  let spaces = false;
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (ch === ' ') {
      const inner = style === 'plain' || (i !== 0 && i !== chars.length - 1);
      const nextSpace = chars[i + 1] === ' ';
      if (at.breaks && !spaces && col > BEST_WIDTH && inner && (style === 'double' || !nextSpace)) {
        out += '\n' + at.indent;
        col = at.indent.length;
        if (style === 'double' && nextSpace) { out += '\\'; col++; }
      } else { out += ' '; col++; }
      spaces = true;
      continue;
    }
    const w = style === 'double' ? yamlEscape(ch) : style === 'single' && ch === "'" ? "''" : ch;
    out += w;
    col += [...w].length;
    spaces = false;
  }
  return out + quote;
}

/** A literal block (`|-`) for multi-line strings, when libyaml allows one. */
function yamlLiteral(s: string, indent: string): string | undefined {
  if (/[ \t]\n| $|[^\n\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/u.test(s) || /^\s*$/.test(s)) return undefined;
  const chomp = !s.endsWith('\n') ? '-' : s.endsWith('\n\n') || s === '\n' ? '+' : '';
  const head = /^[ \n]/.test(s) ? '|2' + chomp : '|' + chomp;
  const body = (chomp === '' || chomp === '+' ? s.replace(/\n$/, '') : s).split('\n');
  return head + body.map((l) => (l === '' ? '\n' : '\n' + indent + l)).join('');
}

const NEEDS_DOUBLE = /[^\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]|\ufeff/u;

function yamlString(s: string, at: At): string {
  if (looksNonString(s)) return yamlFold(s, 'double', at);
  if (s.includes('\n')) return (at.breaks ? yamlLiteral(s, at.indent) : undefined) ?? yamlFold(s, 'double', at);
  if (NEEDS_DOUBLE.test(s)) return yamlFold(s, 'double', at);
  return yamlFold(s, plainAllowed(s) ? 'plain' : 'single', at);
}

function yamlScalar(v: HostValue, at: At): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'bigint') {
    // past uint64, go-yaml reads the JSON number as a float64
    return v >= -(1n << 63n) && v < 1n << 64n ? v.toString() : goFloatString(Number(v));
  }
  if (typeof v === 'number') return Number.isInteger(v) && Math.abs(v) < 2 ** 63 ? BigInt(v).toString() : goFloatString(v);
  if (Array.isArray(v)) return '[]';
  if (isObject(v)) return '{}';
  return yamlString(v, at);
}

function isCollection(v: HostValue): boolean {
  return Array.isArray(v) ? v.length > 0 : isObject(v) && Object.keys(v).length > 0;
}

function width(s: string): number {
  return [...s].length;
}

/** Lines of a block node at `indent` (go-yaml v2: sequences inside mappings are not indented). */
function yamlBlock(v: HostValue, indent: string): string {
  if (Array.isArray(v) && v.length > 0) {
    // an entry's first line replaces the two spaces of its indentation with "- "
    return v.map((x) => indent + '- ' + yamlEntry(x, indent + '  ').slice(indent.length + 2)).join('');
  }
  if (isObject(v) && Object.keys(v).length > 0) {
    const keys = Object.keys(v).sort((a, b) => (yamlKeyLess(a, b) ? -1 : yamlKeyLess(b, a) ? 1 : 0));
    return keys.map((k) => {
      const val = v[k]!;
      const key = indent + yamlString(k, { indent, column: width(indent), breaks: false });
      if (Array.isArray(val) && val.length > 0) return key + ':\n' + yamlBlock(val, indent);
      if (isCollection(val)) return key + ':\n' + yamlBlock(val, indent + '  ');
      return key + ': ' + yamlScalar(val, { indent: indent + '  ', column: width(key) + 2, breaks: true }) + '\n';
    }).join('');
  }
  // a root scalar's continuation lines are indented (libyaml increases the indent for every scalar)
  return indent + yamlScalar(v, { indent: indent + '  ', column: width(indent), breaks: true }) + '\n';
}

/** A sequence entry's lines at `indent` (a nested collection starts on the entry's own line). */
function yamlEntry(v: HostValue, indent: string): string {
  return isCollection(v) ? yamlBlock(v, indent) : indent + yamlScalar(v, { indent, column: width(indent), breaks: true }) + '\n';
}

export function yamlMarshal(v: HostValue): string {
  return yamlBlock(v, '');
}

/** go-yaml v2's read of the first document (YAML 1.1), as the JSON values sigs.k8s.io/yaml makes of it. */
export function yamlUnmarshal(text: string): HostValue {
  let docs;
  try {
    docs = parseAllDocuments(text, {
      version: '1.1',
      intAsBigInt: true,
      // go-yaml v2 leaves timestamps and base-60 numbers ("1:20") as strings
      customTags: (tags) => tags.filter((t) => !(typeof t === 'object' && (t.tag === 'tag:yaml.org,2002:timestamp' || t.format === 'TIME'))),
    });
  } catch (e) {
    throw new BuiltinError(`yaml: ${(e as Error).message}`);
  }
  const list = Array.isArray(docs) ? docs : [docs];
  const doc = list[0];
  if (doc === undefined) return null;
  const err = doc.errors[0];
  if (err) throw new BuiltinError(`yaml: ${err.message}`);
  return toHost(doc.toJS({ mapAsMap: true, maxAliasCount: 10000 }));
}

/** The JSON value sigs.k8s.io/yaml makes of a decoded YAML value (keys as strings, big integers as floats). */
function toHost(v: unknown): HostValue {
  if (v === null || v === undefined) return null;
  if (typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'bigint') {
    if (v >= -BigInt(Number.MAX_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
    return v >= -(1n << 63n) && v < 1n << 64n ? v : Number(v);
  }
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new BuiltinError('json: unsupported value: ' + goFloatString(v));
    return v;
  }
  if (Array.isArray(v)) return v.map(toHost);
  if (v instanceof Map) {
    const out: Obj = {};
    for (const [k, x] of v) out[yamlKeyString(k)] = toHost(x);
    return out;
  }
  if (v instanceof Set) return [...v].map(toHost);
  if (typeof v === 'object') {
    const out: Obj = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = toHost(x);
    return out;
  }
  throw new BuiltinError(`yaml: unsupported value ${String(v)}`);
}

/** sigs.k8s.io/yaml's key conversion: integers and booleans as text, floats as float32 text, others an error. */
function yamlKeyString(k: unknown): string {
  if (typeof k === 'string') return k;
  if (typeof k === 'bigint' || typeof k === 'boolean') return String(k);
  if (typeof k === 'number') {
    if (Number.isInteger(k) && Math.abs(k) < 2 ** 63) return String(k);
    return goFloatString(float32Shortest(k));
  }
  throw new BuiltinError(`unsupported map key: ${String(k)}`);
}

/** The shortest decimal that reads back as the same float32 (strconv.FormatFloat(x, 'g', -1, 32)). */
function float32Shortest(x: number): number {
  if (!Number.isFinite(x)) return x;
  const f = Math.fround(x);
  for (let p = 1; p <= 9; p++) {
    const v = Number(f.toPrecision(p));
    if (Math.fround(v) === f) return v;
  }
  return f;
}

// ---------------------------------------------------------------------------------------------------------------
// object.union_n and rand.intn.

/** object.union: a recursive merge where the right operand wins on conflicts. */
export function unionObjects(a: Obj, b: Obj): Obj {
  const out: Obj = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] = isObject(prev) && isObject(v) ? unionObjects(prev, v) : v;
  }
  return out;
}

function intOperand(v: HostValue | undefined, pos: number): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v !== 'number') throw new BuiltinTypeError(`operand ${pos} must be number but got ${typeName(v)}`);
  if (!Number.isInteger(v)) throw new BuiltinTypeError(`operand ${pos} must be integer number but got floating-point number`);
  return BigInt(v);
}

function randomBelow(n: bigint): bigint {
  if (n <= BigInt(2 ** 48 - 1)) return BigInt(randomInt(Number(n)));
  // rejection sampling over 64 more random bits than n needs keeps the result uniform
  const bytes = Math.ceil(n.toString(2).length / 8) + 8;
  const space = 1n << BigInt(bytes * 8);
  const limit = space - (space % n);
  for (;;) {
    const r = BigInt('0x' + randomBytes(bytes).toString('hex'));
    if (r < limit) return r % n;
  }
}

function base64Valid(s: string): boolean {
  // Go's decoder skips CR and LF; everything else must be canonical padded base64
  const t = s.replace(/[\r\n]/g, '');
  return /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(t);
}

function num(n: bigint): number | bigint {
  return n >= -BigInt(Number.MAX_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
}

export const ENCODING_BUILTINS: HostCatalogue = {
  'urlquery.encode': { args: [['string']], impl: ([s]) => queryEscape(str(s, 1)) },
  'urlquery.decode': { args: [['string']], impl: ([s]) => queryUnescape(str(s, 1)) },
  'urlquery.encode_object': {
    args: [['object']],
    impl: ([o]) => {
      if (!isObject(o)) throw new BuiltinTypeError(`operand 1 must be object but got ${typeName(o)}`);
      return encodeObject(o);
    },
  },
  'urlquery.decode_object': { args: [['string']], impl: ([s]) => decodeObject(str(s, 1)) },
  'yaml.marshal': { args: [['any']], impl: ([v]) => yamlMarshal(v ?? null) },
  'yaml.unmarshal': { args: [['string']], impl: ([s]) => yamlUnmarshal(str(s, 1)) },
  'yaml.is_valid': {
    args: [['string']],
    impl: ([s]) => {
      if (typeof s !== 'string') return false;
      try {
        yamlUnmarshal(s);
        return true;
      } catch (e) {
        if (e instanceof BuiltinError) return false;
        throw e;
      }
    },
  },
  'json.marshal_with_options': {
    args: [['any'], ['object', 'null']],
    impl: ([v, opts]) => marshalWithOptions(v ?? null, opts),
  },
  'json.marshal_indent': {
    args: [['any'], ['string', 'null']],
    impl: ([v, indent]) => {
      if (indent !== null && typeof indent !== 'string') throw new BuiltinTypeError(`operand 2 must be one of {string, null} but got ${typeName(indent)}`);
      return goJson(v ?? null, '', indent ?? '\t');
    },
  },
  'base64.is_valid': { args: [['string']], impl: ([s]) => typeof s === 'string' && base64Valid(s) },
  'object.union_n': {
    args: [['array']],
    impl: ([arr]) => {
      if (!Array.isArray(arr)) throw new BuiltinTypeError(`operand 1 must be array but got ${typeName(arr)}`);
      let out: Obj = {};
      for (const o of arr) {
        if (!isObject(o)) throw new BuiltinTypeError(`operand 1 must be array of object but got array containing ${typeName(o)}`);
        out = unionObjects(out, o);
      }
      return out;
    },
  },
  'rand.intn': {
    args: [['string'], ['number']],
    impl: ([s, n], ctx) => {
      const key = str(s, 1);
      let bound = intOperand(n, 2);
      if (bound === 0n) return 0;
      if (bound < 0n) bound = -bound;
      // OPA memoises per (str, |n|) for the whole query
      const cacheKey = `rand.intn\u0000${key}-${bound}`;
      const hit = ctx.cache.get(cacheKey);
      if (hit !== undefined) return hit;
      const r = num(randomBelow(bound));
      ctx.cache.set(cacheKey, r);
      return r;
    },
  },
};
