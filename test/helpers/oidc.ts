/**
 * A real OAuth 2.1 / OpenID Connect authorization server for tests: `oidc-provider` on 127.0.0.1, with discovery,
 * JWKS, JWT and opaque access tokens (by RFC 8707 resource), introspection, revocation, client credentials,
 * dynamic registration, the authorization-code flow with PKCE (its development login and consent pages, driven by
 * Chromium in tests) and refresh tokens.
 *
 * RFC 8693 token exchange: oidc-provider has no built-in grant for it, so a grant registered with its
 * `registerGrantType` stands in: oidc-provider authenticates the client and parses the request; the handler
 * verifies the subject token against the provider's own keys and signs the new token with the same key.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as jose from 'jose';
import Provider from 'oidc-provider';

export interface TestAs {
  issuer: string;
  provider: Provider;
  /** Token endpoint requests by grant type. */
  grants: Record<string, number>;
  introspections: () => number;
  /** A signing key the AS does not publish (for forgeries) and the published one's private half. */
  privateJwk: jose.JWK;
  publicJwk: jose.JWK;
  /** Mint a JWT with the AS's own key (for attack cases with chosen claims). */
  mint(claims: jose.JWTPayload, opts?: { kid?: string; alg?: string; key?: jose.CryptoKey | Uint8Array; typ?: string }): Promise<string>;
  /** Replace the published keys (key rotation). */
  close(): Promise<void>;
}

export interface TestAsOptions {
  /** Resource URLs that get opaque tokens (the rest get JWTs). */
  opaque?: (resource: string) => boolean;
  accessTokenTtl?: number;
  /** Extra clients. */
  clients?: Record<string, unknown>[];
}

export const SCOPES = ['files:read', 'files:write', 'notes:read', 'admin'];

export async function startAs(o: TestAsOptions = {}): Promise<TestAs> {
  const { privateKey, publicKey } = await jose.generateKeyPair('RS256', { extractable: true });
  const privateJwk = { ...(await jose.exportJWK(privateKey)), kid: 'test-key-1', alg: 'RS256', use: 'sig' };
  const publicJwk = { ...(await jose.exportJWK(publicKey)), kid: 'test-key-1', alg: 'RS256', use: 'sig' };
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const grants: Record<string, number> = {};
  let introspections = 0;
  const ttl = o.accessTokenTtl ?? 600;

  const provider = new Provider(issuer, {
    clients: [
      { client_id: 'warden-rs', client_secret: 'rs-secret-0123456789', grant_types: [], redirect_uris: [], response_types: [] },
      {
        client_id: 'warden-upstream',
        client_secret: 'upstream-secret-0123456789',
        grant_types: ['client_credentials', 'urn:ietf:params:oauth:grant-type:token-exchange'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_post',
      },
      {
        client_id: 'robot',
        client_secret: 'robot-secret-0123456789',
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: 'client_secret_post',
        scope: SCOPES.join(' '),
      },
      ...((o.clients ?? []) as never[]),
    ],
    jwks: { keys: [privateJwk] },
    features: {
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      registration: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: (_ctx: unknown, _client: unknown, oneOf?: string[]) => (oneOf ? oneOf[0] : undefined),
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, resource: string) => ({
          scope: SCOPES.join(' '),
          audience: resource,
          accessTokenTTL: ttl,
          accessTokenFormat: o.opaque?.(resource) ? 'opaque' : 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
    scopes: ['openid', 'offline_access', ...SCOPES],
    issueRefreshToken: async (_ctx: unknown, client: { grantTypeAllowed(g: string): boolean }) => client.grantTypeAllowed('refresh_token'),
    extraTokenClaims: async () => ({ groups: ['eng'] }),
    findAccount: async (_ctx: unknown, id: string) => ({ accountId: id, claims: async () => ({ sub: id }) }),
    clientBasedCORS: () => true,
    ttl: { AccessToken: ttl, ClientCredentials: ttl, RefreshToken: 3600, Session: 3600, Grant: 3600, Interaction: 600 },
  } as never);
  provider.proxy = false;

  provider.registerGrantType(
    'urn:ietf:params:oauth:grant-type:token-exchange',
    async (ctx: { oidc: { params: Record<string, string | undefined>; client: { clientId: string } }; body: unknown; status: number }) => {
      const p = ctx.oidc.params;
      const fail = (error: string, description: string) => {
        ctx.status = 400;
        ctx.body = { error, error_description: description };
      };
      if (p['subject_token_type'] !== 'urn:ietf:params:oauth:token-type:access_token') return fail('invalid_request', 'unsupported subject_token_type');
      let subject: jose.JWTPayload;
      try {
        subject = (await jose.jwtVerify(p['subject_token']!, jose.createLocalJWKSet({ keys: [publicJwk] }), { issuer })).payload;
      } catch {
        return fail('invalid_grant', 'subject token invalid');
      }
      const audience = p['audience'] ?? p['resource'];
      if (!audience) return fail('invalid_target', 'no audience');
      const now = Math.floor(Date.now() / 1000);
      const token = await new jose.SignJWT({ scope: subject['scope'], client_id: ctx.oidc.client.clientId, act: { sub: ctx.oidc.client.clientId }, exchanged: true })
        .setProtectedHeader({ alg: 'RS256', kid: privateJwk.kid, typ: 'at+jwt' })
        .setIssuer(issuer)
        .setSubject(String(subject.sub))
        .setAudience(audience)
        .setIssuedAt(now)
        .setExpirationTime(now + 300)
        .setJti(crypto.randomUUID())
        .sign(privateKey);
      grants['token-exchange'] = (grants['token-exchange'] ?? 0) + 1;
      ctx.body = { access_token: token, issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', token_type: 'Bearer', expires_in: 300 };
    },
    ['subject_token', 'subject_token_type', 'audience', 'resource', 'requested_token_type', 'scope', 'actor_token', 'actor_token_type'],
  );
  provider.on('grant.success', (ctx: { oidc: { params?: { grant_type?: string } } }) => {
    const g = ctx.oidc.params?.grant_type ?? 'unknown';
    grants[g] = (grants[g] ?? 0) + 1;
  });
  provider.on('introspection.error', () => undefined);
  provider.on('server_error', (_ctx: unknown, err: Error) => process.stderr.write(`oidc-provider server_error: ${err.stack}\n`));
  server.on('request', (req, res) => {
    if (req.url?.startsWith('/token/introspection')) introspections++;
  });
  server.on('request', provider.callback());
  const mint: TestAs['mint'] = async (claims, opts = {}) => {
    const now = Math.floor(Date.now() / 1000);
    const jwt = new jose.SignJWT({ iat: now, exp: now + 300, iss: issuer, jti: crypto.randomUUID(), ...claims }).setProtectedHeader({
      alg: opts.alg ?? 'RS256',
      kid: opts.kid ?? privateJwk.kid,
      typ: opts.typ ?? 'at+jwt',
    });
    return jwt.sign(opts.key ?? privateKey);
  };
  return {
    issuer,
    provider,
    grants,
    introspections: () => introspections,
    privateJwk,
    publicJwk,
    mint,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

/** A client-credentials token from the AS for a resource (JWT unless the AS makes that resource opaque). */
export async function clientToken(as: TestAs, resource: string, scope = 'files:read', client = 'robot', secret = 'robot-secret-0123456789'): Promise<string> {
  const res = await fetch(`${as.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: client, client_secret: secret, scope, resource }),
  });
  const body = (await res.json()) as { access_token?: string; error?: string; error_description?: string };
  if (!body.access_token) throw new Error(`token request failed: ${JSON.stringify(body)}`);
  return body.access_token;
}

export async function revoke(as: TestAs, token: string, client = 'robot', secret = 'robot-secret-0123456789'): Promise<void> {
  const res = await fetch(`${as.issuer}/token/revocation`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token, client_id: client, client_secret: secret }),
  });
  if (res.status !== 200) throw new Error(`revocation failed: ${res.status}`);
}
