/**
 * OPA value text → RegoValue and RegoValue → JSON text, without losing integer precision: host built-ins receive
 * their operands as the OPA value text the module wrote (runtime hostcall.ts: exact digits, sets), and answer with
 * JSON text the module parses back exactly (DESIGN.md §2: the runtime keeps a number's original text).
 * `JSON.parse` would round 2^63−1 to a double.
 */
import { BuiltinError, RegoMap, RegoSet, type RegoValue } from './types.js';

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * Parses OPA value text (opa_value_dump: JSON plus sets `{a, b}` / `set()` and non-string object keys) into a
 * RegoValue; `sets: false` turns sets into arrays. Objects with non-string keys have no host form: a BuiltinError.
 */
export function parseValueText(text: string, sets: boolean, maps = false): RegoValue {
  const p = new Parser(text, true, sets, maps);
  const v = p.value();
  p.ws();
  if (p.i !== text.length) throw new SyntaxError(`unexpected data at offset ${p.i}`);
  return v;
}

class Parser {
  i = 0;
  constructor(private readonly s: string, private readonly rego = false, private readonly sets = false, private readonly maps = false) {}

  ws(): void {
    const s = this.s;
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
      this.i++;
    }
  }

  value(depth = 0): RegoValue {
    if (depth > 4096) throw new SyntaxError('JSON nested too deeply');
    this.ws();
    const s = this.s;
    const c = s[this.i];
    if (this.rego && s.startsWith('set()', this.i)) { this.i += 5; return this.sets ? new RegoSet([]) : []; }
    if (c === '{') {
      this.i++;
      const out: Record<string, RegoValue> = {};
      this.ws();
      if (s[this.i] === '}') { this.i++; return out; }
      if (this.rego) {
        const first = this.value(depth + 1);
        this.ws();
        if (s[this.i] !== ':') return this.setRest(first, depth);
        return this.objectRest(first, depth);
      }
      for (;;) {
        this.ws();
        if (s[this.i] !== '"') {
          if (this.rego) throw new BuiltinError('objects with non-string keys cannot be passed to this built-in');
          throw new SyntaxError(`expected a string key at offset ${this.i}`);
        }
        const k = this.string();
        this.ws();
        if (s[this.i++] !== ':') throw new SyntaxError(`expected ':' at offset ${this.i - 1}`);
        out[k] = this.value(depth + 1);
        this.ws();
        const d = s[this.i++];
        if (d === '}') return out;
        if (d !== ',') throw new SyntaxError(`expected ',' or '}' at offset ${this.i - 1}`);
      }
    }
    if (c === '[') {
      this.i++;
      const out: RegoValue[] = [];
      this.ws();
      if (s[this.i] === ']') { this.i++; return out; }
      for (;;) {
        out.push(this.value(depth + 1));
        this.ws();
        const d = s[this.i++];
        if (d === ']') return out;
        if (d !== ',') throw new SyntaxError(`expected ',' or ']' at offset ${this.i - 1}`);
      }
    }
    if (c === '"') return this.string();
    for (const [lit, v] of [['true', true], ['false', false], ['null', null]] as const) {
      if (s.startsWith(lit, this.i)) { this.i += lit.length; return v; }
    }
    return this.number();
  }

  /**
   * The rest of an object in OPA's value text whose first key was read (the `:` is next): a plain object when every
   * key is a string, else a RegoMap (or a BuiltinError where maps are not accepted).
   */
  private objectRest(first: RegoValue, depth: number): RegoValue {
    const entries: [RegoValue, RegoValue][] = [];
    let k = first;
    for (;;) {
      this.i++; // ':'
      entries.push([k, this.value(depth + 1)]);
      this.ws();
      const d = this.s[this.i++];
      if (d === '}') break;
      if (d !== ',') throw new SyntaxError(`expected ',' or '}' at offset ${this.i - 1}`);
      k = this.value(depth + 1);
      this.ws();
      if (this.s[this.i] !== ':') throw new SyntaxError(`expected ':' at offset ${this.i}`);
    }
    if (entries.every(([key]) => typeof key === 'string')) {
      const out: Record<string, RegoValue> = {};
      for (const [key, v] of entries) out[key as string] = v;
      return out;
    }
    if (!this.maps) throw new BuiltinError('objects with non-string keys cannot be passed to this built-in');
    return new RegoMap(entries);
  }

  /** The rest of a set literal whose first element was read. */
  private setRest(first: RegoValue, depth: number): RegoValue {
    const items = [first];
    for (;;) {
      this.ws();
      const d = this.s[this.i++];
      if (d === '}') return this.sets ? new RegoSet(items) : items;
      if (d !== ',') throw new SyntaxError(`expected ',' or '}' at offset ${this.i - 1}`);
      items.push(this.value(depth + 1));
    }
  }

  string(): string {
    // the slice up to the closing quote is itself a JSON string literal: let JSON.parse decode the escapes
    const s = this.s;
    const start = this.i;
    this.i++;
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i);
      if (c === 0x5c) { this.i += 2; continue; }
      this.i++;
      if (c === 0x22) return JSON.parse(s.slice(start, this.i)) as string;
    }
    throw new SyntaxError('unterminated string');
  }

  number(): number | bigint {
    const m = /^-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(this.s.slice(this.i, this.i + 1100));
    if (!m) throw new SyntaxError(`unexpected character at offset ${this.i}`);
    this.i += m[0].length;
    if (m[1] === undefined && m[2] === undefined) {
      const b = BigInt(m[0]);
      return b > MAX_SAFE || b < -MAX_SAFE ? b : Number(b);
    }
    return Number(m[0]);
  }
}

/**
 * The tagged JSON form a set-aware built-in answers in (runtime hostcall.ts `tg_host_untag`): every object is
 * `{"o": [[key, value], …]}`, every set `{"s": […]}`, so no plain object can be mistaken for a set.
 */
export function stringifyTagged(v: RegoValue): string {
  if (v instanceof RegoSet) return `{"s":[${v.items.map(stringifyTagged).join(',')}]}`;
  if (v instanceof RegoMap) return `{"o":[${v.entries.map(([k, x]) => `[${stringifyTagged(k)},${stringifyTagged(x)}]`).join(',')}]}`;
  if (Array.isArray(v)) return `[${v.map(stringifyTagged).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{"o":[${Object.keys(v).map((k) => `[${JSON.stringify(k)},${stringifyTagged(v[k] as RegoValue)}]`).join(',')}]}`;
  }
  return stringifyExact(v);
}

/** JSON text of a HostValue; bigints print exactly, non-finite numbers are refused (JSON cannot carry them). */
export function stringifyExact(v: RegoValue): string {
  switch (typeof v) {
    case 'bigint': return v.toString();
    case 'number':
      if (!Number.isFinite(v)) throw new RangeError(`number ${v} cannot be represented`);
      return JSON.stringify(v);
    case 'string': case 'boolean': return JSON.stringify(v);
    default:
      if (v === null) return 'null';
      if (v instanceof RegoSet || v instanceof RegoMap) throw new TypeError('a set or non-string-key object in the result of a built-in not declared set-aware');
      if (Array.isArray(v)) return `[${v.map(stringifyExact).join(',')}]`;
      return `{${Object.keys(v).map((k) => `${JSON.stringify(k)}:${stringifyExact(v[k] as RegoValue)}`).join(',')}}`;
  }
}
