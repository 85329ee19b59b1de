/**
 * OPA's `time.*` built-ins (topdown/time.go) with Go `time` semantics: instants are int64 nanoseconds since the Unix
 * epoch (bigint here, so they stay exact), layouts are Go reference-time layouts, durations Go duration strings.
 * Time zones come from `Intl` (the IANA database Node ships); "" and "UTC" are UTC, "Local" is the process zone.
 */
import { BuiltinError, BuiltinTypeError, type HostCatalogue, type HostValue } from './types.js';

const NS_PER_SEC = 1_000_000_000n;
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

const LONG_MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const LONG_DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const RFC3339 = '2006-01-02T15:04:05Z07:00';
const RFC3339_NANO = '2006-01-02T15:04:05.999999999Z07:00';

// ---------------------------------------------------------------------------------------------------------------
// Civil calendar arithmetic (proleptic Gregorian, like Go).

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return (a % b !== 0n && (a < 0n) !== (b < 0n)) ? q - 1n : q;
}

function isLeap(y: number): boolean {
  return y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
}

function daysIn(month: number, year: number): number {
  if (month === 2) return isLeap(year) ? 29 : 28;
  return [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]!;
}

/** Days since 1970-01-01 of a civil date; month and day may be out of range (they normalise, as in Go's Date). */
function daysFromCivil(year: number, month: number, day: number): number {
  // normalise the month into [1, 12] first, carrying into the year
  const m0 = month - 1;
  const y = year + Math.floor(m0 / 12);
  const m = (((m0 % 12) + 12) % 12) + 1;
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function civilFromDays(z0: number): { year: number; month: number; day: number } {
  const z = z0 + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  return { year: yoe + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

// ---------------------------------------------------------------------------------------------------------------
// Zones.

/** A location: UTC or an IANA zone resolved through Intl. */
export interface Zone {
  readonly name: string;
  /** Offset east of UTC in seconds at `unixSec`, and the zone abbreviation in effect. */
  at(unixSec: number): { offset: number; abbr: string };
}

const UTC: Zone = { name: 'UTC', at: () => ({ offset: 0, abbr: 'UTC' }) };

const zoneCache = new Map<string, Zone>();

/**
 * Intl has no tzdata abbreviations, only locale names: try the English locales that use the customary ones
 * (en-US: PST; en-GB: CET, BST; en-IN: IST; en-AU: AEST), and otherwise write the offset as tzdata does ("+04").
 */
const ABBR_LOCALES = ['en-US', 'en-GB', 'en-IN', 'en-AU'];

function zoneAbbr(formats: Intl.DateTimeFormat[], date: Date, offset: number): string {
  for (const f of formats) {
    const name = f.formatToParts(date).find((p) => p.type === 'timeZoneName')?.value ?? '';
    if (name !== '' && !/^(GMT|UTC)[+-−]/.test(name)) return name;
  }
  const abs = Math.abs(offset);
  const hm = String(Math.floor(abs / 3600)).padStart(2, '0') + (abs % 3600 >= 60 ? String(Math.floor((abs % 3600) / 60)).padStart(2, '0') : '');
  return (offset < 0 ? '-' : '+') + hm;
}

function ianaZone(name: string): Zone {
  let fmt: Intl.DateTimeFormat;
  let abbrFmts: Intl.DateTimeFormat[];
  try {
    fmt = new Intl.DateTimeFormat('en-US', {
      timeZone: name, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric',
      hour: 'numeric', minute: 'numeric', second: 'numeric', era: 'short',
    });
    abbrFmts = ABBR_LOCALES.map((l) => new Intl.DateTimeFormat(l, { timeZone: name, timeZoneName: 'short' }));
  } catch {
    throw new BuiltinError(`unknown time zone ${name}`);
  }
  return {
    name,
    at(unixSec) {
      const date = new Date(unixSec * 1000);
      const parts: Record<string, string> = {};
      for (const p of fmt.formatToParts(date)) parts[p.type] = p.value;
      let year = Number(parts.year);
      if (parts.era === 'BC' || parts.era === 'B') year = 1 - year;
      const local = daysFromCivil(year, Number(parts.month), Number(parts.day)) * 86400
        + Number(parts.hour) * 3600 + Number(parts.minute) * 60 + Number(parts.second);
      const offset = local - unixSec;
      return { offset, abbr: zoneAbbr(abbrFmts, date, offset) };
    },
  };
}

/** Go's time.LoadLocation as OPA applies it ("" and "UTC" are UTC). */
export function loadZone(name: string): Zone {
  if (name === '' || name === 'UTC') return UTC;
  const key = name === 'Local' ? `Local:${process.env.TZ ?? ''}` : name;
  let z = zoneCache.get(key);
  if (!z) {
    if (name === 'Local') {
      const local = new Intl.DateTimeFormat().resolvedOptions().timeZone;
      z = local === 'UTC' || local === 'Etc/UTC' ? { name: 'Local', at: UTC.at } : ianaZone(local);
    } else {
      // Intl also takes UTC offsets and any letter case; Go's zone files do not
      if (/^[+-]/.test(name) || name.includes('..')) throw new BuiltinError(`unknown time zone ${name}`);
      z = ianaZone(name);
      const resolved = new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
      if (resolved !== name && resolved.toLowerCase() === name.toLowerCase()) throw new BuiltinError(`unknown time zone ${name}`);
    }
    zoneCache.set(key, z);
  }
  return z;
}

// ---------------------------------------------------------------------------------------------------------------
// Broken-down time.

export interface Civil {
  year: number; month: number; day: number; hour: number; min: number; sec: number; nsec: number;
  weekday: number; yday: number; offset: number; abbr: string;
}

/** The wall clock of instant `ns` in `zone` (Go's Time.Date/Clock/Weekday/YearDay). */
export function civil(ns: bigint, zone: Zone): Civil {
  const unixSec = Number(floorDiv(ns, NS_PER_SEC));
  const nsec = Number(ns - BigInt(unixSec) * NS_PER_SEC);
  const { offset, abbr } = zone.at(unixSec);
  const local = unixSec + offset;
  const days = Math.floor(local / 86400);
  const secOfDay = local - days * 86400;
  const { year, month, day } = civilFromDays(days);
  return {
    year, month, day,
    hour: Math.floor(secOfDay / 3600), min: Math.floor((secOfDay % 3600) / 60), sec: secOfDay % 60, nsec,
    weekday: (((days + 4) % 7) + 7) % 7,
    yday: days - daysFromCivil(year, 1, 1) + 1,
    offset, abbr,
  };
}

/** Go's time.Date(year, month, day, hour, min, sec, nsec, zone) as nanoseconds; every field may be out of range. */
export function fromCivil(year: number, month: number, day: number, hour: number, min: number, sec: number, nsec: bigint, zone: Zone): bigint {
  const local = BigInt(daysFromCivil(year, month, day)) * 86400n + BigInt(hour) * 3600n + BigInt(min) * 60n + BigInt(sec);
  // Go's Date: take the offset in effect at `local` read as UTC, and re-check it at the resulting instant
  const guess = zone.at(Number(local)).offset;
  const second = zone.at(Number(local) - guess).offset;
  const offset = second === guess ? guess : second;
  return (local - BigInt(offset)) * NS_PER_SEC + nsec;
}

// ---------------------------------------------------------------------------------------------------------------
// Go layouts: the chunks of a layout string (Go's nextStdChunk).

type Std =
  | 'January' | 'Jan' | '1' | '01' | 'Monday' | 'Mon' | '2' | '_2' | '02' | '__2' | '002' | '15' | '3' | '03'
  | '4' | '04' | '5' | '05' | '2006' | '06' | 'PM' | 'pm' | 'MST'
  | 'Z0700' | 'Z070000' | 'Z07' | 'Z07:00' | 'Z07:00:00' | '-0700' | '-070000' | '-07' | '-07:00' | '-07:00:00'
  | 'frac0' | 'frac9';

interface Chunk { prefix: string; std?: Std; digits: number; sep: string; suffix: string; text: string }

const ZERO_STD: Record<string, Std> = { '1': '01', '2': '02', '3': '03', '4': '04', '5': '05', '6': '06' };
const TZ_STDS: Std[] = ['-07:00:00', '-070000', '-07:00', '-0700', '-07'];
const ISO_STDS: Std[] = ['Z07:00:00', 'Z070000', 'Z07:00', 'Z0700', 'Z07'];

function startsWithLower(s: string): boolean {
  return s.length > 0 && s[0]! >= 'a' && s[0]! <= 'z';
}

function isDigitAt(s: string, i: number): boolean {
  return i < s.length && s[i]! >= '0' && s[i]! <= '9';
}

function nextChunk(layout: string): Chunk {
  const found = (i: number, std: Std, len: number): Chunk =>
    ({ prefix: layout.slice(0, i), std, digits: 0, sep: '', suffix: layout.slice(i + len), text: layout.slice(i, i + len) });
  for (let i = 0; i < layout.length; i++) {
    const rest = layout.slice(i);
    switch (layout[i]) {
      case 'J':
        if (rest.startsWith('January')) return found(i, 'January', 7);
        if (rest.startsWith('Jan') && !startsWithLower(rest.slice(3))) return found(i, 'Jan', 3);
        break;
      case 'M':
        if (rest.startsWith('Monday')) return found(i, 'Monday', 6);
        if (rest.startsWith('Mon') && !startsWithLower(rest.slice(3))) return found(i, 'Mon', 3);
        if (rest.startsWith('MST')) return found(i, 'MST', 3);
        break;
      case '0':
        if (rest.length >= 2 && rest[1]! >= '1' && rest[1]! <= '6') return found(i, ZERO_STD[rest[1]!]!, 2);
        if (rest.startsWith('002')) return found(i, '002', 3);
        break;
      case '1':
        return rest.startsWith('15') ? found(i, '15', 2) : found(i, '1', 1);
      case '2':
        return rest.startsWith('2006') ? found(i, '2006', 4) : found(i, '2', 1);
      case '_':
        if (rest.startsWith('_2')) {
          // "_2006" is a literal underscore followed by the long year
          if (rest.startsWith('_2006')) return { ...found(i + 1, '2006', 4), prefix: layout.slice(0, i + 1) };
          return found(i, '_2', 2);
        }
        if (rest.startsWith('__2')) return found(i, '__2', 3);
        break;
      case '3': return found(i, '3', 1);
      case '4': return found(i, '4', 1);
      case '5': return found(i, '5', 1);
      case 'P':
        if (rest.startsWith('PM')) return found(i, 'PM', 2);
        break;
      case 'p':
        if (rest.startsWith('pm')) return found(i, 'pm', 2);
        break;
      case '-':
        for (const s of TZ_STDS) if (rest.startsWith(s)) return found(i, s, s.length);
        break;
      case 'Z':
        for (const s of ISO_STDS) if (rest.startsWith(s)) return found(i, s, s.length);
        break;
      case '.':
      case ',': {
        const ch = rest[1];
        if (ch === '0' || ch === '9') {
          let j = i + 1;
          while (j < layout.length && layout[j] === ch) j++;
          if (!isDigitAt(layout, j)) {
            return { prefix: layout.slice(0, i), std: ch === '0' ? 'frac0' : 'frac9', digits: j - i - 1, sep: layout[i]!, suffix: layout.slice(j), text: layout.slice(i, j) };
          }
        }
        break;
      }
    }
  }
  return { prefix: layout, digits: 0, sep: '', suffix: '', text: '' };
}

// ---------------------------------------------------------------------------------------------------------------
// Formatting (Go's Time.Format).

function pad(n: number, width: number, ch = '0'): string {
  const s = String(Math.abs(n)).padStart(width, ch);
  return n < 0 ? '-' + s : s;
}

function formatZone(std: Std, offset: number): string {
  if (std.startsWith('Z') && offset === 0) return 'Z';
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset);
  const h = pad(Math.floor(abs / 3600), 2);
  const m = pad(Math.floor(abs / 60) % 60, 2);
  const s = pad(abs % 60, 2);
  const body = std.replace(/^[Z-]/, '');
  if (body === '07') return sign + h;
  if (body === '0700') return sign + h + m;
  if (body === '070000') return sign + h + m + s;
  if (body === '07:00') return sign + h + ':' + m;
  return sign + h + ':' + m + ':' + s;
}

function formatStd(c: Chunk, t: Civil): string {
  switch (c.std!) {
    case 'January': return LONG_MONTHS[t.month - 1]!;
    case 'Jan': return LONG_MONTHS[t.month - 1]!.slice(0, 3);
    case '1': return String(t.month);
    case '01': return pad(t.month, 2);
    case 'Monday': return LONG_DAYS[t.weekday]!;
    case 'Mon': return LONG_DAYS[t.weekday]!.slice(0, 3);
    case '2': return String(t.day);
    case '_2': return pad(t.day, 2, ' ');
    case '02': return pad(t.day, 2);
    case '__2': return pad(t.yday, 3, ' ');
    case '002': return pad(t.yday, 3);
    case '15': return pad(t.hour, 2);
    case '3': return String(t.hour % 12 === 0 ? 12 : t.hour % 12);
    case '03': return pad(t.hour % 12 === 0 ? 12 : t.hour % 12, 2);
    case '4': return String(t.min);
    case '04': return pad(t.min, 2);
    case '5': return String(t.sec);
    case '05': return pad(t.sec, 2);
    case '2006': return pad(t.year, 4);
    case '06': return pad(((t.year % 100) + 100) % 100, 2);
    case 'PM': return t.hour >= 12 ? 'PM' : 'AM';
    case 'pm': return t.hour >= 12 ? 'pm' : 'am';
    case 'MST': return t.abbr !== '' ? t.abbr : formatZone('-0700', t.offset);
    case 'frac0': return c.sep + String(t.nsec).padStart(9, '0').slice(0, c.digits);
    case 'frac9': {
      const digits = String(t.nsec).padStart(9, '0').slice(0, c.digits).replace(/0+$/, '');
      return digits === '' ? '' : c.sep + digits;
    }
    default: return formatZone(c.std!, t.offset);
  }
}

export function goFormat(t: Civil, layout: string): string {
  let out = '';
  let rest = layout;
  while (rest !== '') {
    const c = nextChunk(rest);
    out += c.prefix;
    if (c.std === undefined) break;
    out += formatStd(c, t);
    rest = c.suffix;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing (Go's time.Parse with UTC as the default location).

class ParseError extends BuiltinError {}

function quote(s: string): string {
  return JSON.stringify(s);
}

interface ParseState {
  year: number; month: number; day: number; yday: number; hour: number; min: number; sec: number; nsec: bigint;
  pm: boolean; am: boolean; offset?: number; utc: boolean; zoneName: string;
}

/** Go's getnum: one or two digits (exactly two when `fixed`). */
function getnum(v: string, fixed: boolean): [number, string] | undefined {
  if (!isDigitAt(v, 0)) return undefined;
  if (!isDigitAt(v, 1)) return fixed ? undefined : [Number(v[0]), v.slice(1)];
  return [Number(v.slice(0, 2)), v.slice(2)];
}

function getnum3(v: string, fixed: boolean): [number, string] | undefined {
  let i = 0;
  while (i < 3 && isDigitAt(v, i)) i++;
  if (i === 0 || (fixed && i !== 3)) return undefined;
  return [Number(v.slice(0, i)), v.slice(i)];
}

/** Go's skip: literal layout text must match; a space matches a run of spaces. */
function skip(value: string, prefix: string): string | undefined {
  let v = value;
  let p = prefix;
  while (p.length > 0) {
    if (p[0] === ' ') {
      if (v.length > 0 && v[0] !== ' ') return undefined;
      p = p.replace(/^ +/, '');
      v = v.replace(/^ +/, '');
      continue;
    }
    if (v.length === 0 || v[0] !== p[0]) return undefined;
    p = p.slice(1);
    v = v.slice(1);
  }
  return v;
}

function lookupName(names: string[], v: string, len: (n: string) => number): [number, string] | undefined {
  for (let i = 0; i < names.length; i++) {
    const n = len(names[i]!);
    if (v.length >= n && v.slice(0, n).toLowerCase() === names[i]!.slice(0, n).toLowerCase()) return [i, v.slice(n)];
  }
  return undefined;
}

/** Nanoseconds of a fraction ".123" (at most nine digits count). */
function parseNanos(v: string, n: number): bigint | undefined {
  if (v[0] !== '.' && v[0] !== ',') return undefined;
  const digits = v.slice(1, Math.min(n, 10));
  if (!/^[0-9]*$/.test(digits)) return undefined;
  return BigInt((digits + '000000000').slice(0, 9));
}

/** A numeric zone offset per the layout element, or undefined when the value does not match it. */
function parseOffset(std: Std, v: string): [number, string] | undefined {
  const body = std.replace(/^[Z-]/, '');
  const m = {
    '07': /^([+-])(\d\d)/, '0700': /^([+-])(\d\d)(\d\d)/, '070000': /^([+-])(\d\d)(\d\d)(\d\d)/,
    '07:00': /^([+-])(\d\d):(\d\d)/, '07:00:00': /^([+-])(\d\d):(\d\d):(\d\d)/,
  }[body]!.exec(v);
  if (!m) return undefined;
  const [hh, mm, ss] = [Number(m[2]), Number(m[3] ?? 0), Number(m[4] ?? 0)];
  if (hh > 24 || mm > 60 || ss > 60) throw new ParseError('time zone offset out of range');
  const off = (hh * 3600 + mm * 60 + ss) * (m[1] === '-' ? -1 : 1);
  return [off, v.slice(m[0].length)];
}

/** Go's parseTimeZone: a zone abbreviation's length, or 0. */
function zoneAbbrLength(v: string): number {
  if (v.length < 3) return 0;
  if (v.startsWith('ChST') || v.startsWith('MeST')) return 4;
  if (v.startsWith('GMT')) {
    const m = /^[+-](\d+)/.exec(v.slice(3));
    if (!m) return 3;
    const n = Number(m[1]);
    return n === 0 || n > 23 ? 3 : 3 + m[0].length;
  }
  if (v[0] === '+' || v[0] === '-') {
    const m = /^[+-](\d{2}|\d{4})(?!\d)/.exec(v);
    return m ? m[0].length : 0;
  }
  let n = 0;
  while (n < v.length && v[n]! >= 'A' && v[n]! <= 'Z') n++;
  if (n === 3) return 3;
  if ((n === 4 || n === 5) && (v[n - 1] === 'T' || v.startsWith('WITA'))) return n;
  return n === 4 && v.startsWith('WITA') ? 4 : 0;
}

/** Applies one layout element to the value; returns the rest of the value, or undefined if it does not match. */
function parseStd(c: Chunk, v: string, st: ParseState, restLayout: string): string | undefined {
  let r: [number, string] | undefined;
  switch (c.std!) {
    case '2006':
      if (v.length < 4 || !/^\d{4}/.test(v)) return undefined;
      st.year = Number(v.slice(0, 4));
      return v.slice(4);
    case '06':
      if (!(r = getnum(v, true))) return undefined;
      st.year = r[0] + (r[0] >= 69 ? 1900 : 2000);
      return r[1];
    case 'January':
    case 'Jan':
      if (!(r = lookupName(LONG_MONTHS, v, (n) => (c.std === 'Jan' ? 3 : n.length)))) return undefined;
      st.month = r[0] + 1;
      return r[1];
    case 'Monday':
    case 'Mon':
      r = lookupName(LONG_DAYS, v, (n) => (c.std === 'Mon' ? 3 : n.length));
      return r?.[1];
    case '1':
    case '01':
      if (!(r = getnum(v, c.std === '01'))) return undefined;
      if (r[0] <= 0 || r[0] > 12) throw new ParseError('month out of range');
      st.month = r[0];
      return r[1];
    case '2':
    case '_2':
    case '02': {
      const vv = c.std === '_2' && v[0] === ' ' ? v.slice(1) : v;
      if (!(r = getnum(vv, c.std === '02'))) return undefined;
      st.day = r[0];
      return r[1];
    }
    case '__2':
    case '002': {
      const vv = c.std === '__2' ? v.replace(/^ {1,2}/, '') : v;
      if (!(r = getnum3(vv, c.std === '002'))) return undefined;
      st.yday = r[0];
      return r[1];
    }
    case '15':
      if (!(r = getnum(v, false))) return undefined;
      if (r[0] < 0 || r[0] >= 24) throw new ParseError('hour out of range');
      st.hour = r[0];
      return r[1];
    case '3':
    case '03':
      if (!(r = getnum(v, c.std === '03'))) return undefined;
      if (r[0] < 0 || r[0] > 12) throw new ParseError('hour out of range');
      st.hour = r[0];
      return r[1];
    case '4':
    case '04':
      if (!(r = getnum(v, c.std === '04'))) return undefined;
      if (r[0] < 0 || r[0] >= 60) throw new ParseError('minute out of range');
      st.min = r[0];
      return r[1];
    case '5':
    case '05':
      if (!(r = getnum(v, c.std === '05'))) return undefined;
      if (r[0] < 0 || r[0] >= 60) throw new ParseError('second out of range');
      st.sec = r[0];
      return secondFraction(r[1], st, restLayout);
    case 'PM':
    case 'pm': {
      const s = v.slice(0, 2);
      const [p, a] = c.std === 'PM' ? ['PM', 'AM'] : ['pm', 'am'];
      if (s === p) st.pm = true;
      else if (s === a) st.am = true;
      else return undefined;
      return v.slice(2);
    }
    case 'MST': {
      if (v.startsWith('UTC')) { st.utc = true; return v.slice(3); }
      const n = zoneAbbrLength(v);
      if (n === 0) return undefined;
      st.zoneName = v.slice(0, n);
      return v.slice(n);
    }
    case 'frac0': {
      const n = 1 + c.digits;
      if (v.length < n) return undefined;
      const ns = parseNanos(v, n);
      if (ns === undefined || !/^[0-9]*$/.test(v.slice(1, n))) return undefined;
      st.nsec = ns;
      return v.slice(n);
    }
    case 'frac9': {
      if (v.length < 2 || (v[0] !== '.' && v[0] !== ',') || !isDigitAt(v, 1)) return v; // the fraction is optional
      let i = 1;
      while (isDigitAt(v, i)) i++;
      st.nsec = parseNanos(v, i)!;
      return v.slice(i);
    }
    default: {
      if (c.std!.startsWith('Z') && v[0] === 'Z') { st.utc = true; return v.slice(1); }
      const o = parseOffset(c.std!, v);
      if (!o) return undefined;
      st.offset = o[0];
      return o[1];
    }
  }
}

/** A fraction after the seconds that the layout does not spell out is still read (Go: RFC3339 takes ".123"). */
function secondFraction(v: string, st: ParseState, restLayout: string): string {
  if (v.length < 2 || (v[0] !== '.' && v[0] !== ',') || !isDigitAt(v, 1)) return v;
  // Go looks at the next layout element wherever it is, not only right after the seconds
  const next = nextChunk(restLayout);
  if (next.std === 'frac0' || next.std === 'frac9') return v;
  let n = 2;
  while (isDigitAt(v, n)) n++;
  st.nsec = parseNanos(v, n)!;
  return v.slice(n);
}

/** Month and day from a day of the year (Go's rules, including the checks against a parsed month/day). */
function applyYearDay(st: ParseState, fail: (msg: string) => never): void {
  let yday = st.yday;
  let m = 0;
  let d = 0;
  if (isLeap(st.year)) {
    if (yday === 31 + 29) { m = 2; d = 29; } else if (yday > 31 + 29) yday--;
  }
  if (yday < 1 || yday > 365) fail('day-of-year out of range');
  if (m === 0) {
    const before = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365];
    m = Math.floor((yday - 1) / 31) + 1;
    if (before[m]! < yday) m++;
    d = yday - before[m - 1]!;
  }
  if (st.month >= 0 && st.month !== m) fail('day-of-year does not match month');
  if (st.day >= 0 && st.day !== d) fail('day-of-year does not match day');
  st.month = m;
  st.day = d;
}

/** Go's time.Parse(layout, value) in UTC, as nanoseconds (not range-checked). */
export function goParse(layout: string, value: string): bigint {
  const st: ParseState = { year: 0, month: -1, day: -1, yday: -1, hour: 0, min: 0, sec: 0, nsec: 0n, pm: false, am: false, utc: false, zoneName: '' };
  const fail = (msg: string): never => { throw new BuiltinError(`parsing time ${quote(value)}: ${msg}`); };
  let lay = layout;
  let v = value;
  for (;;) {
    const c = nextChunk(lay);
    const afterPrefix = skip(v, c.prefix);
    if (afterPrefix === undefined) {
      throw new BuiltinError(`parsing time ${quote(value)} as ${quote(layout)}: cannot parse ${quote(v)} as ${quote(c.prefix)}`);
    }
    v = afterPrefix;
    if (c.std === undefined) {
      if (v.length > 0) fail(`extra text: ${quote(v)}`);
      break;
    }
    let next: string | undefined;
    try {
      next = parseStd(c, v, st, c.suffix);
    } catch (e) {
      if (e instanceof ParseError) fail(e.message);
      throw e;
    }
    if (next === undefined) {
      throw new BuiltinError(`parsing time ${quote(value)} as ${quote(layout)}: cannot parse ${quote(v)} as ${quote(c.text)}`);
    }
    v = next;
    lay = c.suffix;
  }
  if (st.pm && st.hour < 12) st.hour += 12;
  else if (st.am && st.hour === 12) st.hour = 0;
  if (st.yday >= 0) applyYearDay(st, fail);
  else {
    if (st.month < 0) st.month = 1;
    if (st.day < 0) st.day = 1;
  }
  if (st.day < 1 || st.day > daysIn(st.month, st.year)) fail('day out of range');
  const local = fromCivil(st.year, st.month, st.day, st.hour, st.min, st.sec, st.nsec, UTC);
  if (st.utc) return local;
  if (st.offset !== undefined) return local - BigInt(st.offset) * NS_PER_SEC;
  // an abbreviation gives no offset (Go fabricates a zero-offset zone for it), except "GMT+h"
  const gmt = /^GMT([+-]\d+)$/.exec(st.zoneName);
  return gmt ? local - BigInt(Number(gmt[1]) * 3600) * NS_PER_SEC : local;
}

/** Go's time.ParseDuration as nanoseconds. */
export function goParseDuration(s: string): bigint {
  const invalid = (): never => { throw new BuiltinError(`time: invalid duration ${quote(s)}`); };
  let rest = s;
  let neg = false;
  if (rest[0] === '-' || rest[0] === '+') { neg = rest[0] === '-'; rest = rest.slice(1); }
  if (rest === '0') return 0n;
  if (rest === '') invalid();
  const units: Record<string, bigint> = {
    ns: 1n, us: 1000n, 'µs': 1000n, 'μs': 1000n, ms: 1_000_000n, s: NS_PER_SEC, m: 60n * NS_PER_SEC, h: 3600n * NS_PER_SEC,
  };
  const limit = 1n << 63n;
  let total = 0n;
  while (rest !== '') {
    const m = /^([0-9]*)(?:\.([0-9]*))?/.exec(rest)!;
    const [whole, intPart, fracPart] = [m[0], m[1]!, m[2]];
    if (!/^[.0-9]/.test(rest) || (intPart === '' && (fracPart ?? '') === '')) invalid();
    rest = rest.slice(whole.length);
    const u = /^[^.0-9]*/.exec(rest)![0];
    if (u === '') throw new BuiltinError(`time: missing unit in duration ${quote(s)}`);
    const unit = units[u];
    if (unit === undefined) throw new BuiltinError(`time: unknown unit ${quote(u)} in duration ${quote(s)}`);
    rest = rest.slice(u.length);
    let v = BigInt(intPart || '0');
    if (v > limit / unit) invalid();
    v *= unit;
    if (fracPart) v += fractionNanos(fracPart, unit);
    total += v;
    if (total > limit) invalid();
  }
  if (total === limit && !neg) invalid();
  return neg ? -total : total;
}

/** Go adds a fraction as uint64(float64(f) * (float64(unit) / scale)), digits beyond int64 dropped. */
function fractionNanos(digits: string, unit: bigint): bigint {
  let f = 0n;
  let scale = 1;
  let overflow = false;
  for (const d of digits) {
    if (overflow) continue;
    if (f > (INT64_MAX - 9n) / 10n) { overflow = true; continue; }
    f = f * 10n + BigInt(d);
    scale *= 10;
  }
  return BigInt(Math.trunc(Number(f) * (Number(unit) / scale)));
}

// ---------------------------------------------------------------------------------------------------------------
// Operands.

function checkRange(ns: bigint): bigint {
  if (ns < INT64_MIN || ns > INT64_MAX) throw new BuiltinError('time outside of valid range');
  return ns;
}

/** An exact int64 number of nanoseconds (OPA: anything else is "timestamp too big"). */
function nanos(v: HostValue | undefined): bigint {
  if (typeof v === 'bigint') {
    if (v < INT64_MIN || v > INT64_MAX) throw new BuiltinError('timestamp too big');
    return v;
  }
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new BuiltinError('timestamp too big');
    return nanos(BigInt(v));
  }
  throw new BuiltinTypeError(`operand 1 must be number but got ${typeName(v)}`);
}

function typeName(v: HostValue | undefined): string {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'bigint') return 'number';
  return typeof v === 'object' ? 'object' : typeof v;
}

const TZ_OPERAND = 'either number (ns) or [number (ns), string (tz)]';

/** OPA's tzTime: `ns`, `[ns, tz]` or `[ns, tz, layout]`. */
function tzTime(a: HostValue | undefined): { ns: bigint; zone: Zone; layout: string } {
  if (Array.isArray(a)) {
    if (a.length === 0) throw new BuiltinTypeError(`operand 1 must be ${TZ_OPERAND} but got array`);
    const ns = nanos(a[0]);
    let zone = UTC;
    let layout = '';
    if (a.length > 1) {
      if (typeof a[1] !== 'string') throw new BuiltinTypeError(`operand 1 must be string but got ${typeName(a[1])}`);
      zone = loadZone(a[1]);
    }
    if (a.length > 2) {
      if (typeof a[2] !== 'string') throw new BuiltinTypeError(`operand 1 must be string but got ${typeName(a[2])}`);
      layout = a[2];
    }
    return { ns, zone, layout };
  }
  if (typeof a !== 'number' && typeof a !== 'bigint') throw new BuiltinTypeError(`operand 1 must be ${TZ_OPERAND} but got ${typeName(a)}`);
  return { ns: nanos(a), zone: UTC, layout: '' };
}

/** A number result: a JS number when exact, otherwise a bigint. */
function num(n: bigint): number | bigint {
  return n >= -BigInt(Number.MAX_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
}

function str(v: HostValue | undefined, pos: number): string {
  if (typeof v !== 'string') throw new BuiltinTypeError(`operand ${pos} must be string but got ${typeName(v)}`);
  return v;
}

function intOperand(v: HostValue | undefined, pos: number): number {
  if (typeof v !== 'number' && typeof v !== 'bigint') throw new BuiltinTypeError(`operand ${pos} must be number but got ${typeName(v)}`);
  // Go's int is 64 bits, but a year/month/day count that large only overflows the result's range
  if (typeof v === 'bigint' || !Number.isInteger(v)) throw new BuiltinTypeError(`operand ${pos} must be integer number but got floating-point number`);
  return v;
}

/** Go's Time.Sub-free calendar difference (OPA's time.diff, after icza/gox). */
function diff(a: ReturnType<typeof tzTime>, b: ReturnType<typeof tzTime>): number[] {
  const [t1, t2] = a.ns > b.ns ? [b.ns, a.ns] : [a.ns, b.ns];
  // both in the first operand's zone
  const c1 = civil(t1, a.zone);
  const c2 = civil(t2, a.zone);
  let year = c2.year - c1.year;
  let month = c2.month - c1.month;
  let day = c2.day - c1.day;
  let hour = c2.hour - c1.hour;
  let min = c2.min - c1.min;
  let sec = c2.sec - c1.sec;
  if (sec < 0) { sec += 60; min--; }
  if (min < 0) { min += 60; hour--; }
  if (hour < 0) { hour += 24; day--; }
  if (day < 0) {
    // days in c1's month: Go normalises day 32 of that month into the next one
    day += 32 - civilFromDays(daysFromCivil(c1.year, c1.month, 32)).day;
    month--;
  }
  if (month < 0) { month += 12; year--; }
  return [year, month, day, hour, min, sec];
}

export const TIME_BUILTINS: HostCatalogue = {
  'time.now_ns': { args: [], impl: (_args, ctx) => num(ctx.nowNs) },
  'time.parse_rfc3339_ns': {
    args: [['string']],
    impl: ([v]) => num(checkRange(goParse(RFC3339, str(v, 1)))),
  },
  'time.parse_ns': {
    args: [['string'], ['string']],
    impl: ([layout, v]) => num(checkRange(goParse(str(layout, 1), str(v, 2)))),
  },
  'time.parse_duration_ns': {
    args: [['string']],
    impl: ([v]) => num(goParseDuration(str(v, 1))),
  },
  'time.date': {
    args: [['number', 'array']],
    impl: ([v]) => {
      const t = tzTime(v);
      const c = civil(t.ns, t.zone);
      return [c.year, c.month, c.day];
    },
  },
  'time.clock': {
    args: [['number', 'array']],
    impl: ([v]) => {
      const t = tzTime(v);
      const c = civil(t.ns, t.zone);
      return [c.hour, c.min, c.sec];
    },
  },
  'time.weekday': {
    args: [['number', 'array']],
    impl: ([v]) => {
      const t = tzTime(v);
      return LONG_DAYS[civil(t.ns, t.zone).weekday]!;
    },
  },
  'time.add_date': {
    args: [['number', 'array'], ['number'], ['number'], ['number']],
    impl: ([v, y, m, d]) => {
      const t = tzTime(v);
      const [years, months, days] = [intOperand(y, 2), intOperand(m, 3), intOperand(d, 4)];
      const c = civil(t.ns, t.zone);
      return num(checkRange(fromCivil(c.year + years, c.month + months, c.day + days, c.hour, c.min, c.sec, BigInt(c.nsec), t.zone)));
    },
  },
  'time.diff': {
    args: [['number', 'array'], ['number', 'array']],
    impl: ([a, b]) => diff(tzTime(a), tzTime(b)),
  },
  'time.format': {
    args: [['number', 'array']],
    impl: ([v]) => {
      const t = tzTime(v);
      return goFormat(civil(t.ns, t.zone), t.layout === '' ? RFC3339_NANO : t.layout);
    },
  },
};
