import { createHash } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';

/**
 * Limiter keys. Every identity part of a key is hashed: a key never carries a client id, partner name or address in
 * clear (nothing sensitive lands in Redis or a MONITOR stream), has a bounded length whatever the token said, and
 * cannot be forged to equal another subject's key. The hashed value is the JSON array of the key kind and its
 * parts, so `client_route` of ("a:b", "c") and ("a", "b:c") differ and a client id can never collide with a route
 * id or an address (JSON strings are escaped, the array boundaries unambiguous).
 *
 * 22 base64url characters keep 132 bits of SHA-256: a collision between two real subjects is not a practical
 * concern, and a chosen id colliding with a given victim's key would be a second pre-image.
 */
export function subjectKey(kind: string, ...parts: string[]): string {
  return createHash('sha256').update(JSON.stringify([kind, ...parts])).digest('base64url').slice(0, 22);
}

/** Identities hashed per cache before the cache is emptied (bounds memory under a flood of distinct ids). */
const KEY_CACHE_MAX = 50_000;

/**
 * `subjectKey` per identity kind, memoised (a SHA-256 per limit per request is a measurable part of a memory-store
 * check). One map per kind and single-string map keys, so a cache hit can never return another kind's or another
 * pair's key.
 */
export function createKeyCache(): {
  client(id: string): string;
  partner(id: string): string;
  ip(ip: string): string;
  clientRoute(clientId: string, routeId: string): string;
} {
  const memo = (compute: (v: string) => string) => {
    const map = new Map<string, string>();
    return (v: string): string => {
      let k = map.get(v);
      if (k === undefined) {
        if (map.size >= KEY_CACHE_MAX) map.clear();
        k = compute(v);
        map.set(v, k);
      }
      return k;
    };
  };
  const perRoute = new Map<string, (clientId: string) => string>();
  return {
    client: memo((id) => subjectKey('client', id)),
    partner: memo((id) => subjectKey('partner', id)),
    ip: memo((ip) => subjectKey('ip', ipLimitKey(ip))),
    clientRoute(clientId, routeId) {
      let m = perRoute.get(routeId);
      if (m === undefined) {
        m = memo((id) => subjectKey('client_route', id, routeId));
        perRoute.set(routeId, m);
      }
      return m(clientId);
    },
  };
}

/**
 * The address an `ip` limit counts by. IPv4-mapped IPv6 (`::ffff:192.0.2.1`, what a dual-stack listener reports)
 * is the IPv4 address, so one client is one key. An IPv6 address counts by its /64: a single host usually holds a
 * whole /64 (RFC 4291 §2.5.1 interface identifiers, SLAAC privacy addresses), so limiting per /128 would let it
 * rotate addresses at will.
 */
export function ipLimitKey(ip: string): string {
  let s = ip.trim().toLowerCase();
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  if (s.startsWith('::ffff:') && isIPv4(s.slice(7))) return s.slice(7);
  if (!isIPv6(s)) return s;
  const halves = s.split('::');
  const left = halves[0] ? halves[0].split(':') : [];
  const right = halves.length > 1 && halves[1] ? halves[1].split(':') : [];
  const last = right.length > 0 ? right : left;
  const tail = last[last.length - 1];
  if (tail !== undefined && tail.includes('.')) {
    const o = tail.split('.').map(Number) as [number, number, number, number];
    last.splice(last.length - 1, 1, ((o[0] << 8) | o[1]).toString(16), ((o[2] << 8) | o[3]).toString(16));
  }
  const fill = halves.length > 1 ? 8 - left.length - right.length : 0;
  const groups = [...left, ...Array<string>(fill).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}

export interface QuotaPeriod {
  /** `2026-11-25` (day) or `2026-11` (month), UTC: part of the limiter key, so each period counts from zero. */
  id: string;
  /** Epoch ms of the period's start and of the next period's start (the reset). */
  start: number;
  end: number;
}

const DAY_MS = 86_400_000;

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** The UTC calendar day or month containing `nowMs`. */
export function quotaPeriod(period: 'day' | 'month', nowMs: number): QuotaPeriod {
  const d = new Date(nowMs);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  if (period === 'day') {
    const start = Date.UTC(y, m, d.getUTCDate());
    return { id: `${pad(y, 4)}-${pad(m + 1)}-${pad(d.getUTCDate())}`, start, end: start + DAY_MS };
  }
  return { id: `${pad(y, 4)}-${pad(m + 1)}`, start: Date.UTC(y, m, 1), end: Date.UTC(y, m + 1, 1) };
}
