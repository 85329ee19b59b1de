/**
 * Parse errors shaped like OPA's `ast.Error`: `{ code, message, location }`, printed as
 * `file:row:col: rego_parse_error: message` (what `opa eval`/`opa check` print for a parse failure).
 */
import type { Location } from './ast.js';

export const REGO_PARSE_ERROR = 'rego_parse_error';

export class RegoParseError extends Error {
  readonly code = REGO_PARSE_ERROR;
  readonly location: Location;
  /** The message without the location prefix, as in OPA's `Error.Message`. */
  readonly detail: string;

  constructor(detail: string, location: Location) {
    super(`${location.file}:${location.row}:${location.col}: ${REGO_PARSE_ERROR}: ${detail}`);
    this.name = 'RegoParseError';
    this.detail = detail;
    this.location = location;
  }

  /** The plain-data form of the error (`message` is the unprefixed text, like OPA's JSON output). */
  toJSON(): { code: string; message: string; location: Location } {
    return { code: this.code, message: this.detail, location: this.location };
  }
}
