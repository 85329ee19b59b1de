/**
 * Route path templates (`/v1/tenants/{tenant}/orders/{id}`) and prefixes (`/public`): the
 * characters a template may use (schema pattern) and the structural rules (checked at load).
 * Requests are matched on normalised paths (RFC 3986 §6.2.2), so a template that contains dot
 * segments, empty segments or percent-encoding could never match and is rejected instead.
 */

/** RFC 3986 `pchar` without `%` (no pre-encoded text), plus `/`, plus `{}` for parameters. */
export const PATH_TEMPLATE_PATTERN = "^/[A-Za-z0-9._~!$&'()*+,;=:@/{}-]*$";
/** As above without braces: a prefix has no parameters. */
export const PATH_PREFIX_PATTERN = "^/[A-Za-z0-9._~!$&'()*+,;=:@/-]*$";

const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export type PathSegment = { literal: string } | { param: string };

/** Segments after the leading `/`: `/a/{b}` -> [{literal:'a'}, {param:'b'}]; `/` -> [{literal:''}]. */
export function templateSegments(template: string): PathSegment[] {
  return template
    .slice(1)
    .split('/')
    .map((s) => (s.startsWith('{') && s.endsWith('}') && s.length > 2 ? { param: s.slice(1, -1) } : { literal: s }));
}

/**
 * Structural problems of a path template or prefix that already matches its character pattern.
 * Returns messages (empty when valid).
 */
export function pathProblems(value: string, kind: 'path' | 'prefix'): string[] {
  const problems: string[] = [];
  if (!value.startsWith('/')) return ['must start with "/"'];
  if (value.includes('//')) problems.push('must not contain an empty segment ("//")');
  const segments = value.slice(1).split('/');
  if (segments.some((s) => s === '.' || s === '..')) {
    problems.push('must not contain "." or ".." segments (requests are matched after dot-segment removal)');
  }
  if (kind === 'prefix' && value.length > 1 && value.endsWith('/')) {
    problems.push('must not end with "/" (a prefix matches whole segments: "/public" already matches "/public/x")');
  }
  if (kind === 'path') {
    const seen = new Set<string>();
    for (const seg of segments) {
      if (!seg.includes('{') && !seg.includes('}')) continue;
      const m = /^\{(.*)\}$/.exec(seg);
      if (m === null || m[1] === undefined || m[1].includes('{') || m[1].includes('}')) {
        problems.push(`segment "${seg}": a parameter must be a whole segment written {name}`);
        continue;
      }
      const name = m[1];
      if (!PARAM_NAME.test(name)) {
        problems.push(`parameter "{${name}}": the name must match [A-Za-z_][A-Za-z0-9_]*`);
      } else if (seen.has(name)) {
        problems.push(`parameter "{${name}}" appears more than once`);
      }
      seen.add(name);
    }
  }
  return problems;
}

/** The template with parameter names erased: `/a/{x}` and `/a/{y}` match the same requests. */
export function templateShape(template: string): string {
  return template.replace(/\{[^/{}]*\}/g, '{}');
}
