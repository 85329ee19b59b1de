/**
 * Ed25519 (RFC 8032) checkpoint signing keys and their JWKS-style publication (RFC 7517 / RFC 8037 OKP keys).
 * The `kid` is the RFC 7638 JWK thumbprint of the public key, so it is derived, not chosen.
 */
import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';

export interface AuditSigner {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export interface AuditJwk {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
  kid: string;
  alg: 'EdDSA';
  use: 'sig';
}

/** RFC 7638 thumbprint: SHA-256 over the required members {crv,kty,x} in lexicographic order, base64url. */
export function jwkThumbprint(publicKey: KeyObject): string {
  const jwk = publicKey.export({ format: 'jwk' }) as { crv?: string; kty?: string; x?: string };
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') {
    throw new Error('audit signing key must be Ed25519');
  }
  return createHash('sha256').update(`{"crv":"Ed25519","kty":"OKP","x":"${jwk.x}"}`).digest('base64url');
}

/** Builds a signer from a KeyObject or from PEM text / a PEM file path (PKCS#8 Ed25519 private key). */
export function loadSigner(source: KeyObject | { pem: string } | { file: string }): AuditSigner {
  let privateKey: KeyObject;
  if ('file' in source) privateKey = createPrivateKey(readFileSync(source.file, 'utf8'));
  else if ('pem' in source) privateKey = createPrivateKey(source.pem);
  else privateKey = source;
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') {
    throw new Error('audit signing key must be an Ed25519 private key');
  }
  const publicKey = createPublicKey(privateKey);
  return { kid: jwkThumbprint(publicKey), privateKey, publicKey };
}

export function publicJwk(publicKey: KeyObject): AuditJwk {
  const jwk = publicKey.export({ format: 'jwk' }) as { x: string };
  return { kty: 'OKP', crv: 'Ed25519', x: jwk.x, kid: jwkThumbprint(publicKey), alg: 'EdDSA', use: 'sig' };
}

/** JWKS-style document `{ keys: [...] }` for the given public keys (keep old keys after a rotation). */
export function exportJwks(publicKeys: KeyObject[]): { keys: AuditJwk[] } {
  return { keys: publicKeys.map(publicJwk) };
}

export function writeJwksFile(file: string, publicKeys: KeyObject[]): void {
  writeFileSync(file, `${JSON.stringify(exportJwks(publicKeys), null, 2)}\n`);
}

/** kid → public key from a JWKS-style document or file. Non-Ed25519 entries are ignored. */
export function loadJwks(source: string | { keys: unknown[] }): Map<string, KeyObject> {
  const doc = typeof source === 'string' ? (JSON.parse(readFileSync(source, 'utf8')) as { keys?: unknown[] }) : source;
  const out = new Map<string, KeyObject>();
  for (const k of doc.keys ?? []) {
    const jwk = k as { kty?: string; crv?: string; x?: string; kid?: string };
    if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') continue;
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, format: 'jwk' });
    out.set(typeof jwk.kid === 'string' ? jwk.kid : jwkThumbprint(key), key);
  }
  return out;
}

/** Ed25519 (RFC 8032, pure — no prehash, so node's algorithm argument is null). */
export function signEd25519(privateKey: KeyObject, payload: Buffer): string {
  return sign(null, payload, privateKey).toString('base64url');
}

export function verifyEd25519(publicKey: KeyObject, payload: Buffer, sig: string): boolean {
  try {
    return verify(null, payload, publicKey, Buffer.from(sig, 'base64url'));
  } catch {
    return false;
  }
}
