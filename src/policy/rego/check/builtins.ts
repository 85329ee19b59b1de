/**
 * Built-in function table for the compile-time checks: name → number of input arguments (OPA's `types.Function`
 * args, without the result). A call may pass one extra argument (the output, `count(xs, n)`), as in OPA.
 * Operators' internal names come from `INFIX_BUILTINS` (ast.ts) plus `eq`/`assign`.
 */
import { INFIX_BUILTINS } from '../syntax/ast.js';

/** Marker arity for variadic built-ins (`print`). */
export const VARIADIC = -1;

const CORE: Record<string, number> = {
  eq: 2, assign: 2,
  // aggregates
  count: 1, sum: 1, product: 1, max: 1, min: 1, sort: 1,
  // numbers
  abs: 1, round: 1, ceil: 1, floor: 1, 'numbers.range': 2, 'numbers.range_step': 3, 'rand.intn': 2, to_number: 1,
  // bits
  'bits.or': 2, 'bits.and': 2, 'bits.negate': 1, 'bits.xor': 2, 'bits.lsh': 2, 'bits.rsh': 2,
  // arrays / sets / objects
  'array.concat': 2, 'array.slice': 3, 'array.reverse': 1, intersection: 1, union: 1,
  'object.get': 3, 'object.keys': 1, 'object.remove': 2, 'object.union': 2, 'object.union_n': 1, 'object.filter': 2,
  'object.subset': 2,
  // strings
  concat: 2, contains: 2, startswith: 2, endswith: 2, lower: 1, upper: 1, split: 2, replace: 3, 'strings.replace_n': 2,
  trim: 2, trim_left: 2, trim_right: 2, trim_prefix: 2, trim_suffix: 2, trim_space: 1, sprintf: 2, format_int: 2,
  indexof: 2, indexof_n: 2, substring: 3, 'strings.reverse': 1, 'strings.any_prefix_match': 2,
  'strings.any_suffix_match': 2, 'strings.count': 2, 'strings.render_template': 2,
  // regex / glob
  'regex.match': 2, 'regex.split': 2, 'regex.find_n': 3, 'regex.find_all_string_submatch_n': 3, 'regex.replace': 3,
  'regex.is_valid': 1, 'regex.template_match': 4, 'regex.globs_match': 2, 'glob.match': 3, 'glob.quote_meta': 1,
  // time
  'time.now_ns': 0, 'time.parse_rfc3339_ns': 1, 'time.parse_ns': 2, 'time.parse_duration_ns': 1, 'time.add_date': 4,
  'time.date': 1, 'time.clock': 1, 'time.weekday': 1, 'time.diff': 2, 'time.format': 1,
  // net
  'net.cidr_contains': 2, 'net.cidr_intersects': 2, 'net.cidr_contains_matches': 2, 'net.cidr_expand': 1,
  'net.cidr_merge': 1, 'net.cidr_is_valid': 1, 'net.lookup_ip_addr': 1,
  // encoding
  'base64.encode': 1, 'base64.decode': 1, 'base64.is_valid': 1, 'base64url.encode': 1, 'base64url.decode': 1,
  'base64url.encode_no_pad': 1, 'json.marshal': 1, 'json.unmarshal': 1, 'json.is_valid': 1, 'json.filter': 2,
  'json.remove': 2, 'json.patch': 2, 'json.marshal_with_options': 2, 'json.verify_schema': 1, 'json.match_schema': 2,
  'yaml.marshal': 1, 'yaml.unmarshal': 1, 'yaml.is_valid': 1, 'urlquery.encode': 1, 'urlquery.decode': 1,
  'urlquery.encode_object': 1, 'urlquery.decode_object': 1, 'hex.encode': 1, 'hex.decode': 1,
  // types
  is_number: 1, is_string: 1, is_boolean: 1, is_array: 1, is_set: 1, is_object: 1, is_null: 1, type_name: 1,
  // misc
  walk: 1, 'units.parse_bytes': 1, 'units.parse': 1, 'semver.compare': 2, 'semver.is_valid': 1, 'uuid.rfc4122': 1,
  'uuid.parse': 1, print: VARIADIC, trace: 1, 'internal.print': 1, 'opa.runtime': 0, 'crypto.sha256': 1,
  'crypto.sha1': 1, 'crypto.md5': 1, 'crypto.hmac.sha256': 2, 'crypto.hmac.sha512': 2, 'crypto.hmac.md5': 2,
  'crypto.hmac.sha1': 2, 'crypto.hmac.equal': 2, 'io.jwt.decode': 1, 'graph.reachable': 2, 'graph.reachable_paths': 2,
  'http.send': 1, 'json.marshal_indent': 2, 'io.jwt.decode_verify': 2, 'io.jwt.verify_rs256': 2,
  'io.jwt.verify_hs256': 2, 'io.jwt.verify_es256': 2, 'io.jwt.verify_ps256': 2, 'io.jwt.encode_sign': 3,
  'io.jwt.encode_sign_raw': 3, 'test.sleep': 1, 'rego.metadata.rule': 0, 'rego.metadata.chain': 0, 'rego.parse_module': 2,
};

/** Deprecated built-ins OPA 1.x removed; available to v0 modules only (as with `--v0-compatible`). */
const DEPRECATED: Record<string, number> = {
  re_match: 2, all: 1, any: 1, set_diff: 2, cast_array: 1, cast_set: 1, cast_string: 1, cast_boolean: 1, cast_null: 1,
  cast_object: 1, 'net.cidr_overlap': 2,
};

const OPERATORS: Record<string, number> = Object.fromEntries(
  Object.values(INFIX_BUILTINS).map((name) => [name, name === 'internal.member_3' ? 3 : 2]),
);

/** Arity of built-in `name` for a module of the given Rego version, or undefined if it is not a built-in. */
export function builtinArity(name: string, regoVersion: 'v0' | 'v1', extra?: Readonly<Record<string, number>>): number | undefined {
  return extra?.[name] ?? OPERATORS[name] ?? CORE[name] ?? (regoVersion === 'v0' ? DEPRECATED[name] : undefined);
}
