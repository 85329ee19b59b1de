import type { RouteConfig } from '../config/types.js';
import { HTTP_METHODS } from '../config/defaults.js';
import { GatewayError } from '../errors.js';

/**
 * Route table compiled once per configuration. Matching is on the normalised path only
 * (see normalize.ts), case-sensitive (RFC 3986 §6.2.2.1: the path is case-sensitive), on
 * whole segments.
 *
 * Precedence, most specific first, so that adding a broad route never steals traffic from a
 * narrow one: exact paths, then templates (more literal segments first), then prefixes
 * (longest first). Within one rank, routes with a `host` come before host-less ones, then
 * declaration order. If the path matches but no route allows the method, the answer is 405
 * with `Allow` (RFC 9110 §15.5.6), not 404.
 */

export interface RouteMatch {
  route: RouteConfig;
  params: Record<string, string>;
}

export interface Router {
  match(method: string, host: string | undefined, path: string): RouteMatch;
}

type Segment = { literal: string } | { param: string };

interface CompiledRoute {
  route: RouteConfig;
  methods: ReadonlySet<string> | null;
  host: string | null;
  kind: 'exact' | 'template' | 'prefix';
  /** exact: the path; prefix: the prefix without trailing slash ('' for '/'). */
  text: string;
  segments: Segment[];
  rank: number;
}

/** A route without `methods` allows these (never CONNECT or TRACE). */
const DEFAULT_METHODS: readonly string[] = HTTP_METHODS;

function compile(route: RouteConfig, order: number): CompiledRoute {
  const m = route.match;
  const methods = m.methods.length > 0 ? new Set(m.methods) : null;
  const host = m.host !== undefined ? m.host.toLowerCase() : null;
  const hostRank = host === null ? 1 : 0;
  if (m.prefix !== undefined) {
    const text = m.prefix.endsWith('/') ? m.prefix.slice(0, -1) : m.prefix;
    // Longer prefixes first; the rank packs (length desc, host first, order).
    return { route, methods, host, kind: 'prefix', text, segments: [], rank: -text.length * 1e7 + hostRank * 1e6 + order };
  }
  const path = m.path ?? '/';
  const segments: Segment[] = path
    .split('/')
    .slice(1)
    .map((s) => (s.startsWith('{') && s.endsWith('}') ? { param: s.slice(1, -1) } : { literal: s }));
  const literals = segments.filter((s) => 'literal' in s).length;
  if (literals === segments.length) {
    return { route, methods, host, kind: 'exact', text: path, segments, rank: hostRank * 1e6 + order };
  }
  return { route, methods, host, kind: 'template', text: path, segments, rank: -literals * 1e7 + hostRank * 1e6 + order };
}

function hostOf(hostHeader: string | undefined): string | undefined {
  if (hostHeader === undefined) return undefined;
  const h = hostHeader.toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end === -1 ? h : h.slice(0, end + 1);
  }
  const colon = h.indexOf(':');
  return colon === -1 ? h : h.slice(0, colon);
}

function decodeParam(segment: string): string {
  // Segments never hold an encoded '/' (normalize.ts rejects it), so decoding cannot split them.
  if (!segment.includes('%')) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new GatewayError('invalid_path', { reason: 'invalid_utf8' });
  }
}

export function createRouter(routes: readonly RouteConfig[]): Router {
  const compiled = routes.map(compile);
  const exact = new Map<string, CompiledRoute[]>();
  const templatesByLength = new Map<number, CompiledRoute[]>();
  const prefixes: CompiledRoute[] = [];
  for (const c of compiled) {
    if (c.kind === 'exact') {
      const list = exact.get(c.text) ?? [];
      list.push(c);
      exact.set(c.text, list);
    } else if (c.kind === 'template') {
      const list = templatesByLength.get(c.segments.length) ?? [];
      list.push(c);
      templatesByLength.set(c.segments.length, list);
    } else {
      prefixes.push(c);
    }
  }
  const byRank = (a: CompiledRoute, b: CompiledRoute) => a.rank - b.rank;
  for (const list of exact.values()) list.sort(byRank);
  for (const list of templatesByLength.values()) list.sort(byRank);
  prefixes.sort(byRank);

  return {
    match(method, hostHeader, path) {
      const host = hostOf(hostHeader);
      // Routes whose path matched but whose method did not, for 405's Allow header.
      let wrongMethod: CompiledRoute[] | null = null;

      const exactList = exact.get(path);
      if (exactList !== undefined) {
        for (const c of exactList) {
          if (c.host !== null && c.host !== host) continue;
          if (allows(c, method)) return { route: c.route, params: {} };
          (wrongMethod ??= []).push(c);
        }
      }

      const templates = templatesByLength.get(countSegments(path));
      if (templates !== undefined) {
        const parts = path.split('/');
        for (const c of templates) {
          if (c.host !== null && c.host !== host) continue;
          const params = matchTemplate(c.segments, parts);
          if (params === null) continue;
          if (allows(c, method)) return { route: c.route, params };
          (wrongMethod ??= []).push(c);
        }
      }

      for (const c of prefixes) {
        if (c.host !== null && c.host !== host) continue;
        if (!isPrefixOf(c.text, path)) continue;
        if (allows(c, method)) return { route: c.route, params: {} };
        (wrongMethod ??= []).push(c);
      }

      if (wrongMethod !== null) {
        const allowed = new Set<string>();
        for (const c of wrongMethod) for (const m of c.methods ?? DEFAULT_METHODS) allowed.add(m);
        throw new GatewayError('method_not_allowed', { reason: 'method', headers: { allow: [...allowed].join(', ') } });
      }
      throw new GatewayError('route_not_found', { reason: 'no_route' });
    },
  };
}

function allows(c: CompiledRoute, method: string): boolean {
  return c.methods === null ? DEFAULT_METHODS.includes(method) : c.methods.has(method);
}

function countSegments(path: string): number {
  let n = 0;
  for (let i = 0; i < path.length; i++) if (path.charCodeAt(i) === 47) n++;
  return n;
}

/** `parts` is path.split('/'), so parts[0] is the empty string before the leading slash. */
function matchTemplate(segments: Segment[], parts: string[]): Record<string, string> | null {
  let params: Record<string, string> | null = null;
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    const part = parts[i + 1]!;
    if ('literal' in seg) {
      if (seg.literal !== part) return null;
    } else {
      // An empty segment (trailing slash) never satisfies a parameter.
      if (part.length === 0) return null;
      params ??= {};
      params[seg.param] = decodeParam(part);
    }
  }
  return params ?? {};
}

function isPrefixOf(prefix: string, path: string): boolean {
  if (prefix.length === 0) return true; // prefix '/'
  if (!path.startsWith(prefix)) return false;
  return path.length === prefix.length || path.charCodeAt(prefix.length) === 47;
}
