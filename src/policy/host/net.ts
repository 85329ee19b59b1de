/**
 * `net.cidr_*` host built-ins with OPA's semantics. OPA uses Go's `net` package, so this file models its types as
 * Go does: an IP is 4 or 16 bytes (`net.ParseIP` always yields 16, IPv4 as `::ffff:a.b.c.d`), an IPNet is an IP
 * plus a 4- or 16-byte mask, and `Contains`, `Mask`, `String` follow Go's rules (including how an IPv4-mapped
 * IPv6 network compares with IPv4 addresses). Address parsing follows Go's `netip.ParseAddr`: IPv4 octets without
 * leading zeros (Go ≥ 1.17), IPv6 with `::` and an embedded IPv4 tail; a zone (`%eth0`) is rejected.
 */
import { BuiltinError, RaisedBuiltinError, RegoSet, type HostCatalogue, type HostValue, type RegoValue } from './types.js';
import { stringOperand as str } from './regex.js';
import { compareGoStrings as compareStrings, compareRego } from './sprintf.js';

type IP = Uint8Array;
interface IPNet {
  readonly ip: IP;
  readonly mask: IP;
}

const V4_IN_V6 = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/** Go `parseIPv4Fields`: exactly four decimal fields 0–255, no empty field, no leading zero. */
function parseV4(s: string): number[] | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out.push(n);
  }
  return out;
}

/** Expands a `::` at group index `ellipsis` to fill 16 bytes; undefined when Go rejects the group count. */
function expandEllipsis(bytes: number[], ellipsis: number): number[] | undefined {
  if (bytes.length === 16) return ellipsis < 0 ? bytes : undefined; // `::` must stand for at least one zero group
  if (ellipsis < 0) return undefined;
  const zeros = new Array<number>(16 - bytes.length).fill(0);
  return [...bytes.slice(0, ellipsis), ...zeros, ...bytes.slice(ellipsis)];
}

/** One `:`-separated IPv6 field, or an embedded IPv4 tail; pushes its bytes. False when malformed. */
function pushV6Field(field: string, isLast: boolean, bytes: number[], ellipsis: number): boolean {
  if (field.includes('.')) {
    // Go: the IPv4 tail must end the address and replace exactly the last two groups (unless `::` is present)
    const v4 = parseV4(field);
    if (!isLast || v4 === undefined || bytes.length + 4 > 16 || (ellipsis < 0 && bytes.length !== 12)) return false;
    bytes.push(...v4);
    return true;
  }
  if (!/^[0-9a-fA-F]{1,4}$/.test(field) || bytes.length + 2 > 16) return false;
  const n = parseInt(field, 16);
  bytes.push(n >> 8, n & 0xff);
  return true;
}

/** Go `netip.parseIPv6` (zones rejected): 16 bytes or undefined. */
function parseV6(s: string): number[] | undefined {
  if (s.includes('%')) return undefined; // a zone is never allowed by ParseIP / ParseCIDR
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const bytes: number[] = [];
  let ellipsis = -1;
  const parseHalf = (h: string, last: boolean): boolean => {
    if (h === '') return true;
    const fields = h.split(':');
    return fields.every((f, i) => pushV6Field(f, last && i === fields.length - 1, bytes, ellipsis));
  };
  if (!parseHalf(halves[0] ?? '', halves.length === 1)) return undefined;
  if (halves.length === 2) {
    ellipsis = bytes.length;
    if (!parseHalf(halves[1] ?? '', true)) return undefined;
  }
  return expandEllipsis(bytes, ellipsis);
}

/** Go `netip.ParseAddr` as `net` uses it: 16 bytes plus whether the text was IPv4 (the first `.`/`:` decides). */
function parseAddr(s: string): { bytes: IP; is4: boolean } | undefined {
  const m = /[.:%]/.exec(s);
  if (m === null || m[0] === '%') return undefined;
  if (m[0] === '.') {
    const v4 = parseV4(s);
    return v4 === undefined ? undefined : { bytes: Uint8Array.from([...V4_IN_V6, ...v4]), is4: true };
  }
  const v6 = parseV6(s);
  return v6 === undefined ? undefined : { bytes: Uint8Array.from(v6), is4: false };
}

/** Go `net.ParseIP`: always 16 bytes. */
function parseIP(s: string): IP | undefined {
  return parseAddr(s)?.bytes;
}

/** Go `net.CIDRMask(ones, bits)`. */
function cidrMask(ones: number, bits: number): IP {
  const m = new Uint8Array(bits / 8);
  for (let i = 0; i < m.length; i++) {
    const take = Math.max(0, Math.min(8, ones - i * 8));
    m[i] = (0xff00 >> take) & 0xff;
  }
  return m;
}

/** Go `net.ParseCIDR`: the network (IP masked; 4 bytes for IPv4); undefined when malformed. */
function parseCIDR(s: string): IPNet | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const addr = parseAddr(s.slice(0, slash));
  const len = s.slice(slash + 1);
  if (addr === undefined || !/^[0-9]+$/.test(len)) return undefined; // Go dtoi: digits only, leading zeros fine
  const bits = addr.is4 ? 32 : 128;
  const ones = Number(len);
  if (ones > bits) return undefined;
  const mask = cidrMask(ones, bits);
  const ip = ipMask(addr.bytes, mask);
  return ip === undefined ? undefined : { ip, mask };
}

function isV4Mapped(ip: IP): boolean {
  return ip.length === 16 && V4_IN_V6.every((b, i) => ip[i] === b);
}

/** Go `IP.To4`. */
function to4(ip: IP): IP | undefined {
  if (ip.length === 4) return ip;
  return isV4Mapped(ip) ? ip.subarray(12) : undefined;
}

/** Go `IP.Mask`. */
function ipMask(ip: IP, mask: IP): IP | undefined {
  let m = mask;
  let a = ip;
  if (m.length === 16 && a.length === 4 && m.subarray(0, 12).every((b) => b === 0xff)) m = m.subarray(12);
  if (m.length === 4 && a.length === 16 && isV4Mapped(a)) a = a.subarray(12);
  if (a.length !== m.length) return undefined;
  return a.map((b, i) => b & (m[i] ?? 0));
}

/** Go `networkNumberAndMask`: an IPv4(-mapped) network compares in 4 bytes. */
function networkNumberAndMask(n: IPNet): { nn: IP; m: IP } | undefined {
  const nn = to4(n.ip) ?? n.ip;
  if (nn.length !== 4 && nn.length !== 16) return undefined;
  let m = n.mask;
  if (m.length === 4 && nn.length !== 4) return undefined;
  if (m.length === 16 && nn.length === 4) m = m.subarray(12);
  if (m.length !== 4 && m.length !== 16) return undefined;
  return { nn, m };
}

/** Go `IPNet.Contains`. */
function contains(n: IPNet, ip: IP): boolean {
  const nm = networkNumberAndMask(n);
  if (nm === undefined) return false;
  const x = to4(ip) ?? ip;
  if (x.length !== nm.nn.length) return false;
  return x.every((b, i) => ((nm.nn[i] ?? 0) & (nm.m[i] ?? 0)) === (b & (nm.m[i] ?? 0)));
}

/** Go `IPMask.Size`: [ones, bits], or [0, 0] for a non-canonical mask. */
function maskSize(m: IP): [number, number] {
  let ones = 0;
  let seenZero = false;
  for (const b of m) {
    for (let bit = 7; bit >= 0; bit--) {
      if ((b >> bit) & 1) {
        if (seenZero) return [0, 0];
        ones++;
      } else {
        seenZero = true;
      }
    }
  }
  return [ones, m.length * 8];
}

function toBig(ip: IP): bigint {
  let n = 0n;
  for (const b of ip) n = (n << 8n) | BigInt(b);
  return n;
}

function fromBig(n: bigint, len: number): IP {
  const out = new Uint8Array(len);
  for (let i = len - 1; i >= 0; i--) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}

/** OPA `getLastIP`: the network's last address, in the network's IP length. */
function lastIP(n: IPNet): IP {
  const [ones, bits] = maskSize(n.mask);
  if (ones === 0 && bits === 0) throw new BuiltinError('CIDR mask is in non-standard format');
  if (ones === bits) return n.ip;
  const host = (1n << BigInt(bits - ones)) - 1n;
  return fromBig(toBig(n.ip) | host, bits / 8);
}

/** Go `IP.String` (netip formatting: IPv4(-mapped) dotted, IPv6 lower-case with the longest ≥2-zero run as `::`). */
function ipString(ip: IP): string {
  const v4 = to4(ip);
  if (v4 !== undefined) return Array.from(v4).join('.');
  if (ip.length !== 16) return ip.length === 0 ? '<nil>' : `?${Buffer.from(ip).toString('hex')}`;
  const groups = Array.from({ length: 8 }, (_, i) => ((ip[2 * i] ?? 0) << 8) | (ip[2 * i + 1] ?? 0));
  let [zs, ze] = [-1, -1];
  for (let i = 0; i < 8; i++) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i >= 2 && j - i > ze - zs) [zs, ze] = [i, j];
  }
  const hex = (g: number[]): string => g.map((x) => x.toString(16)).join(':');
  return zs < 0 ? hex(groups) : `${hex(groups.slice(0, zs))}::${hex(groups.slice(ze))}`;
}

/** Go `IPNet.String`. */
function netString(n: IPNet): string {
  const nm = networkNumberAndMask(n);
  if (nm === undefined) return '<nil>';
  const [ones, bits] = maskSize(nm.m);
  if (ones === 0 && bits === 0) return `${ipString(nm.nn)}/${Buffer.from(nm.m).toString('hex')}`;
  return `${ipString(nm.nn)}/${ones}`;
}

/** OPA `getNetFromOperand`: Go's ParseError text on failure. */
function netOperand(v: HostValue | undefined, pos: number): IPNet {
  const s = str(v, pos);
  const n = parseCIDR(s);
  if (n === undefined) throw new BuiltinError(`invalid CIDR address: ${s}`);
  return n;
}

/** OPA `builtinNetCIDRContains`: `b` is an IP or else a CIDR (contained when its first and last IP are). */
function cidrContains(a: HostValue | undefined, b: HostValue | undefined): boolean {
  const netA = netOperand(a, 1);
  const bs = str(b, 1);
  const ip = parseIP(bs);
  if (ip !== undefined) return contains(netA, ip);
  const netB = parseCIDR(bs);
  // raised even without strict built-in errors (OPA compliance case netcidrcontains-0101)
  if (netB === undefined) throw new RaisedBuiltinError(`not a valid textual representation of an IP address or CIDR: ${bs}`);
  return contains(netA, netB.ip) && contains(netA, lastIP(netB));
}

/** net.cidr_expand refuses networks larger than this (OPA has no bound but a cancellable loop). */
export const CIDR_EXPAND_LIMIT = 65_536;

function cidrExpand(s: string): string[] {
  const slash = s.indexOf('/');
  const n = parseCIDR(s);
  const addr = slash < 0 ? undefined : parseIP(s.slice(0, slash));
  if (n === undefined || addr === undefined) throw new BuiltinError(`invalid CIDR address: ${s}`);
  const [ones, bits] = maskSize(n.mask);
  if (2 ** (bits - ones) > CIDR_EXPAND_LIMIT) {
    throw new BuiltinError(`CIDR ${s} has more than ${CIDR_EXPAND_LIMIT} addresses`);
  }
  // OPA: `for ip := ip.Mask(mask); ipNet.Contains(ip); incIP(ip)`
  const start = ipMask(addr, n.mask) ?? addr;
  const out: string[] = [];
  const max = (1n << BigInt(start.length * 8)) - 1n;
  for (let x = toBig(start); ; x = x === max ? 0n : x + 1n) {
    const ip = fromBig(x, start.length);
    if (!contains(n, ip) || out.length > CIDR_EXPAND_LIMIT) break;
    out.push(ipString(ip));
  }
  return out.sort(compareStrings);
}

// --- net.cidr_merge (OPA: internal/cidr/merge, after netaddr): ranges in a 128-bit space, IPv4 as ::ffff:0:0/96

const V4_BASE = 0xffff_0000_0000n;
const V4_TOP = 0xffff_ffff_ffffn;

interface Range {
  first: bigint;
  last: bigint;
  /** The input network when the range was not merged with another (printed as given, like OPA). */
  net: IPNet | undefined;
}

/** OPA `generateIPNet`: an IPv4 address gets its classful default mask; an IPv6 one is an error. */
function mergeOperandNet(v: RegoValue): IPNet {
  if (typeof v !== 'string') throw new BuiltinError('element must be string');
  const ip = parseIP(v);
  if (ip === undefined) {
    const n = parseCIDR(v);
    if (n === undefined) throw new BuiltinError(`invalid CIDR address: ${v}`);
    return n;
  }
  const v4 = to4(ip);
  if (v4 === undefined) throw new BuiltinError('IPv6 invalid: needs prefix length');
  const first = v4[0] ?? 0;
  return { ip, mask: cidrMask(first < 0x80 ? 8 : first < 0xc0 ? 16 : 24, 32) };
}

/** OPA `GetAddressRange`: first and last address as 128-bit numbers (IPv4 mapped into ::ffff:0:0/96). */
function addressRange(n: IPNet): Range {
  const masked = ipMask(n.ip, n.mask) ?? n.ip;
  const base = to4(masked) !== undefined ? V4_BASE | toBig(to4(masked) ?? masked) : toBig(masked);
  const [ones, bits] = maskSize(n.mask);
  const host = bits === 0 ? 0n : (1n << BigInt(bits - ones)) - 1n;
  return { first: base, last: base | host, net: n };
}

/** OPA `mergeCIDRs`: sort by (last, first), then fold each range into its predecessor when they touch. */
function mergeRanges(ranges: Range[]): Range[] {
  ranges.sort((a, b) => cmpBig(a.last, b.last) || cmpBig(a.first, b.first));
  for (let i = ranges.length - 1; i > 0; i--) {
    const cur = ranges[i];
    const prev = ranges[i - 1];
    if (cur === undefined || prev === undefined) continue;
    // GetPreviousIP never goes below 0.0.0.0 (IPv4) or :: (IPv6)
    const before = cur.first === 0n || cur.first === V4_BASE ? cur.first : cur.first - 1n;
    if (before <= prev.last) {
      ranges[i - 1] = { first: prev.first < cur.first ? prev.first : cur.first, last: cur.last, net: undefined };
      ranges.splice(i, 1);
    }
  }
  return ranges;
}

function cmpBig(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The fewest CIDRs covering [first, last] (OPA `RangeToCIDRs`), in IPv4 when both ends are IPv4. */
function rangeToNets(first: bigint, last: bigint): IPNet[] {
  const v4 = first >= V4_BASE && last <= V4_TOP;
  const bits = v4 ? 32 : 128;
  const off = v4 ? V4_BASE : 0n;
  const out: IPNet[] = [];
  for (let lo = first - off, hi = last - off; lo <= hi; ) {
    let size = 0;
    while (size < bits && (lo & ((1n << BigInt(size + 1)) - 1n)) === 0n && lo + (1n << BigInt(size + 1)) - 1n <= hi) size++;
    out.push({ ip: fromBig(lo + off, 16), mask: cidrMask(bits - size, bits) });
    lo += 1n << BigInt(size);
  }
  return out;
}

function cidrMerge(items: RegoValue[]): string[] {
  const ranges = mergeRanges(items.map((v) => addressRange(mergeOperandNet(v))));
  const nets = ranges.flatMap((r) => (r.net !== undefined ? [r.net] : rangeToNets(r.first, r.last)));
  return [...new Set(nets.map(netString))].sort(compareStrings);
}

// --- net.cidr_contains_matches

/** OPA `getCIDRMatchTerm`: a string, or the first element of a non-empty array. */
function matchTerm(v: RegoValue, operand: number): RegoValue {
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && v.length > 0) return v[0] ?? null;
  throw new BuiltinError(`operand ${operand}: element must be string or non-empty array`);
}

/**
 * [cidr, key] pairs of an operand (OPA `evalNetCIDRContainsMatchesOperand`): a string keys itself, array elements
 * their index, set elements themselves, object values their key.
 */
function matchEntries(v: RegoValue | undefined, operand: number): [RegoValue, RegoValue][] {
  if (typeof v === 'string') return [[v, v]];
  if (Array.isArray(v)) return v.map((x, i) => [matchTerm(x, operand), i]);
  if (v instanceof RegoSet) return v.items.map((x) => [matchTerm(x, operand), x]);
  if (v !== null && typeof v === 'object') return Object.entries(v).map(([k, x]) => [matchTerm(x, operand), k]);
  return [];
}

function cidrContainsMatches(a: RegoValue | undefined, b: RegoValue | undefined): RegoSet {
  const out: RegoValue[] = [];
  const bs = matchEntries(b, 2);
  for (const [cidr1, k1] of matchEntries(a, 1)) {
    for (const [cidr2, k2] of bs) {
      if (cidrContains(cidr1 as HostValue, cidr2 as HostValue)) out.push([k1, k2]);
    }
  }
  return sortedSet(out);
}

/** A set's items in OPA's order, without duplicates. */
function sortedSet(items: RegoValue[]): RegoSet {
  const sorted = [...items].sort(compareRego);
  return new RegoSet(sorted.filter((x, i) => i === 0 || compareRego(sorted[i - 1] ?? null, x) !== 0));
}

export const NET_BUILTINS: HostCatalogue = {
  'net.cidr_contains': {
    args: [['string'], ['string']],
    impl: ([a, b]) => cidrContains(a, b),
  },
  // deprecated alias of net.cidr_contains (OPA registers the same function)
  'net.cidr_overlap': {
    args: [['string'], ['string']],
    impl: ([a, b]) => cidrContains(a, b),
  },
  'net.cidr_intersects': {
    args: [['string'], ['string']],
    impl: ([a, b]) => {
      const netA = netOperand(a, 1);
      const netB = netOperand(b, 2);
      return contains(netA, netB.ip) || contains(netB, netA.ip);
    },
  },
  'net.cidr_is_valid': {
    args: [['any']],
    impl: ([s]) => typeof s === 'string' && parseCIDR(s) !== undefined,
  },
  'net.cidr_expand': {
    args: [['string']],
    sets: true,
    impl: ([s]) => new RegoSet(cidrExpand(str(s, 1))),
  },
  'net.cidr_contains_matches': {
    args: [['string', 'array', 'set', 'object'], ['string', 'array', 'set', 'object']],
    sets: true,
    impl: ([a, b]) => cidrContainsMatches(a, b),
  },
  'net.cidr_merge': {
    args: [['array', 'set']],
    sets: true,
    impl: ([v]) => {
      if (v instanceof RegoSet) return new RegoSet(cidrMerge(v.items));
      if (!Array.isArray(v)) throw new BuiltinError('operand must be an array');
      return new RegoSet(cidrMerge(v));
    },
  },
};
