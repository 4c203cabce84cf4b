/**
 * A token issuer for tests that need several principals without an authorization server: an ES256 key whose public
 * half is written as a JWKS file for `auth.jwks_file`, and tokens signed with it.
 */
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import * as jose from 'jose';

export const TEST_ISSUER = 'https://issuer.test.invalid/';
export const TEST_AUDIENCE = 'mcp-gateway';

export interface LocalIssuer {
  /** The `auth:` line of a serve config that trusts this issuer. */
  authYaml: string;
  /** A token for these claims (sub, scope, client_id …), valid for ten minutes. */
  token(claims: jose.JWTPayload): Promise<string>;
}

export async function localIssuer(dir: string): Promise<LocalIssuer> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const key = privateKey as unknown as jose.CryptoKey;
  const jwk = { ...(await jose.exportJWK(publicKey as unknown as jose.CryptoKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  const file = path.join(dir, 'jwks.json');
  writeFileSync(file, JSON.stringify({ keys: [jwk] }));
  return {
    authYaml: `auth: { issuer: ${TEST_ISSUER}, jwks_file: ${JSON.stringify(file)}, audiences: [${TEST_AUDIENCE}] }`,
    token: (claims) => {
      const now = Math.floor(Date.now() / 1000);
      return new jose.SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer(TEST_ISSUER).setAudience(TEST_AUDIENCE).setIssuedAt(now).setExpirationTime(now + 600).sign(key);
    },
  };
}
