// Minimal JWT helpers on node:crypto. Only what the emulator needs:
// RS256 signing of tokens it issues, RS256/PS256 verification of assertions it receives.
import { KeyObject, constants, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';

export type JsonObject = Record<string, unknown>;

export interface DecodedJwt {
  header: JsonObject;
  payload: JsonObject;
  signingInput: string;
  signature: Buffer;
}

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export function b64url(input: Buffer | string): string {
  return Buffer.from(input).toString('base64url');
}

export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Decodes without verifying. Returns undefined for anything that is not a three-part JSON JWT. */
export function decodeJwt(token: string): DecodedJwt | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const header: unknown = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
    const payload: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    if (!isJsonObject(header) || !isJsonObject(payload)) return undefined;
    return { header, payload, signingInput: `${parts[0]}.${parts[1]}`, signature: Buffer.from(parts[2], 'base64url') };
  } catch {
    return undefined;
  }
}

export function newSigningKey(): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  // Entra's kids are base64url SHA-1 thumbprints; a random 20-byte value looks the same.
  return { kid: b64url(randomBytes(20)), privateKey, publicKey };
}

export function signJwt(payload: JsonObject, key: SigningKey, extraHeader: JsonObject = {}): string {
  const header = { typ: 'JWT', alg: 'RS256', ...extraHeader, kid: key.kid };
  const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  const signature = sign('sha256', Buffer.from(signingInput), key.privateKey);
  return `${signingInput}.${b64url(signature)}`;
}

/** Verifies RS256 or PS256 (what MSAL uses with x5t#S256). Any other alg is rejected. */
export function verifyJwtSignature(jwt: DecodedJwt, publicKey: KeyObject): boolean {
  const data = Buffer.from(jwt.signingInput);
  try {
    if (jwt.header.alg === 'RS256') return verify('sha256', data, publicKey, jwt.signature);
    if (jwt.header.alg === 'PS256') {
      return verify(
        'sha256',
        data,
        { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO },
        jwt.signature,
      );
    }
  } catch {
    return false;
  }
  return false;
}

export function publicJwk(key: SigningKey): JsonObject {
  const jwk = key.publicKey.export({ format: 'jwk' });
  return { kty: 'RSA', use: 'sig', kid: key.kid, x5t: key.kid, n: jwk.n, e: jwk.e };
}

/** Numeric claim helper: JWT times are seconds, absent or non-numeric gives undefined. */
export function numClaim(payload: JsonObject, name: string): number | undefined {
  const v = payload[name];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

export function strClaim(payload: JsonObject, name: string): string | undefined {
  const v = payload[name];
  return typeof v === 'string' ? v : undefined;
}
