import type { JWTPayload } from 'jose';

/** What authentication hands to later stages: verified facts only, never the token itself. */
export interface VerifiedToken {
  /** Issuer config name (not the `iss` URL). */
  issuerName: string;
  /** The token's `iss`. */
  issuer: string;
  /** Client identity from the first configured claim present (default client_id, azp, sub). */
  clientId: string;
  subject: string | undefined;
  /** Union of the `scope` string (space-separated) and the `scp` array. */
  scopes: ReadonlySet<string>;
  /** Token audiences, normalised to an array. */
  audiences: readonly string[];
  /** Seconds since epoch. */
  expiresAt: number;
  issuedAt: number | undefined;
  notBefore: number | undefined;
  jti: string | undefined;
  claims: Readonly<JWTPayload>;
}

/**
 * Verifies tokens for one configured issuer. Built once per config (and again on reload).
 * `verify` throws a `GatewayError` (token_invalid / token_expired / auth_unavailable) whose
 * `reason` is a stable label such as `signature`, `audience`, `expired`, `alg`.
 */
export interface IssuerVerifier {
  readonly name: string;
  /** The issuer's configured audiences, used when a route does not name its own. */
  readonly defaultAudiences: readonly string[];
  /** Signature, alg allowlist, header checks, iss, exp/nbf/iat, typ, required claims, max age. */
  /**
   * Returns the cached result synchronously when the token was verified before (the hot path
   * allocates no promise), otherwise a promise of the full verification.
   */
  verify(token: string, audiences: readonly string[]): VerifiedToken | Promise<VerifiedToken>;
  /** True once keys are available (static keys: always; JWKS: after a first good fetch). */
  ready(): boolean;
  /** Fetch keys at boot so readiness is known; never throws. */
  start(): Promise<void>;
  close(): void;
}
