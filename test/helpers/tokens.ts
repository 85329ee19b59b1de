import { SignJWT, type JWTPayload } from 'jose';
import { registerSecret } from './run-artifacts.js';

/**
 * An HS256 access token from the test issuer (`iss` https://issuer.test, `aud` https://api.test, 5 minutes), registered
 * with the run's secret scan so no log may contain it.
 */
export async function hs256Token(secret: string, claims: JWTPayload): Promise<string> {
  return registerSecret(
    await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('https://issuer.test')
      .setAudience('https://api.test')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(secret)),
  );
}

/** The issuers block of a config with one HS256 issuer (`local`) whose secret is in the environment variable `envName`. */
export function hs256Issuer(envName: string): string {
  return `  local:
    issuer: https://issuer.test
    audiences: [https://api.test]
    algorithms: [HS256]
    secret: { env: ${envName} }`;
}
