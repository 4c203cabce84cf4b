/**
 * `serve` as an OAuth 2.1 resource server (MCP authorization, both eras; spec-sdk.md §2).
 *
 * Every HTTP request to an MCP endpoint carries `Authorization: Bearer …` and is validated on its own (sessions are
 * never authentication). JWT access tokens are checked with `jose` against keys from issuer discovery, a
 * `jwks_uri` or a `jwks_file`: an allow-list of asymmetric algorithms, `iss`, `aud` (one of the endpoint's resource
 * URIs unless configured), `exp`/`nbf`/`iat` with a tolerance and required claims. Opaque tokens go to RFC 7662
 * introspection through `openid-client`, cached no longer than `cache_s` nor past the token's expiry; failures are
 * cached briefly and introspection calls are rate-limited, so random tokens cannot flood the authorization server.
 *
 * Answers: 401 with `WWW-Authenticate: Bearer resource_metadata=…, scope=…` (plus `error="invalid_token"` when a
 * token was sent), 403 `insufficient_scope` naming every scope the operation needs, 400 `invalid_request` for a
 * token in the query string. RFC 9728 metadata is served at the path-inserted well-known URI of every endpoint
 * (and the root one when a single server is configured); `resource` is the public URL plus the endpoint's path.
 * Tokens never reach a log or the audit trail: a principal carries the `jti` or a hash prefix.
 */
import { createHash, createPublicKey, type JsonWebKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as jose from 'jose';
import * as oidc from 'openid-client';
import type { ServerConfig, WardenConfig } from '../config/config.js';
import { ConfigError, fileStamp, fsReason } from '../errors.js';
import { refuseChangeableByOthers } from '../config/files.js';
import type { Logger } from '../log/logger.js';
import type { Principal } from '../pipeline/types.js';
import type { SessionEvents } from '../proxy/session.js';
import type { AuthResult, GatewayHooks } from '../proxy/gateway.js';
import { errorResponse } from '../protocol/jsonrpc.js';
import { sendJson } from '../transports/http-server.js';
import { checkEgress, EgressError, guardedFetch, loopbackUrl, type EgressPolicy } from './egress.js';
import { quotedString } from '../protocol/headers.js';

export interface IntrospectionSettings {
  url?: string;
  clientId: string;
  clientSecret?: string;
  cacheMs: number;
  failureCacheMs: number;
  maxPerSecond: number;
  maxEntries: number;
}

export interface AuthSettings {
  issuer?: string;
  authorizationServers: string[];
  jwksUri?: string;
  jwksFile?: string;
  audiences?: string[];
  algorithms: string[];
  clockToleranceS: number;
  scopeClaims: string[];
  requiredClaims: string[];
  requiredScopes: string[];
  scopesSupported?: string[];
  maxTokenBytes: number;
  jwksCacheMs: number;
  jwksCooldownMs: number;
  introspection?: IntrospectionSettings;
  allowPrivateNetworks: boolean;
  resourceName?: string;
  documentation?: string;
}

type Raw = Record<string, unknown>;

/**
 * The keys of `auth.jwks_file`, read when the resource server is made (as `serve` starts): a file that cannot be read, is not a JWKS, holds a key
 * Node cannot import or a private key, stops the start with the file and why (it was read on the first request and
 * every request then failed).
 */
export function readJwksFile(file: string): jose.JSONWebKeySet {
  // Whoever can write it can add a key of their own and sign any token.
  refuseChangeableByOthers(file, 'the keys tokens are checked with (auth.jwks_file)');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`${file}: cannot read the signing keys (auth.jwks_file): ${fsReason(e)}`, file);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${file}: not JSON (auth.jwks_file): ${(e as Error).message.slice(0, 120)}`, file);
  }
  const keys = (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0) throw new ConfigError(`${file}: not a JWKS (auth.jwks_file): it needs {"keys": [...]} with at least one key`, file);
  keys.forEach((k: unknown, i) => {
    if (!k || typeof k !== 'object' || Array.isArray(k)) throw new ConfigError(`${file}: keys[${i}] is not a JSON Web Key`, file);
    if ('d' in k || 'p' in k || 'k' in k) throw new ConfigError(`${file}: keys[${i}] holds private or secret key material; give only public keys (auth.jwks_file)`, file);
    try {
      createPublicKey({ key: k as JsonWebKey, format: 'jwk' });
    } catch (e) {
      throw new ConfigError(`${file}: keys[${i}] is not a usable public key: ${(e as Error).message.slice(0, 120)}`, file);
    }
  });
  return { keys: keys as jose.JWK[] };
}

/**
 * The keys of `auth.jwks_file`, read again when the file changes (checked at most once a second, as tokens come): an
 * identity provider rotates its keys, and the administrator replaces the file without restarting `serve`. A new
 * file that cannot be used keeps the keys read last in force, as a bad policy reload keeps the last good policy.
 */
function fileKeySet(file: string, log: Logger): jose.JWTVerifyGetKey {
  let keys = jose.createLocalJWKSet(readJwksFile(file));
  let stamp = fileStamp(file);
  let checkedAt = performance.now();
  return (header, token) => {
    const now = performance.now();
    if (now - checkedAt >= 1000) {
      checkedAt = now;
      const seen = fileStamp(file);
      if (seen !== stamp) {
        stamp = seen;
        try {
          keys = jose.createLocalJWKSet(readJwksFile(file));
          log.info({ file }, 'auth.jwks_file changed: its signing keys were read again');
        } catch (e) {
          log.error({ file, err: (e as Error).message }, 'auth.jwks_file changed but cannot be used; the keys read last stay in force');
        }
      }
    }
    return keys(header, token);
  };
}

const DEFAULT_ALGS = ['RS256', 'PS256', 'ES256', 'EdDSA'];

export function authSettings(config: WardenConfig): AuthSettings | undefined {
  const a = config.raw['auth'] as Raw | undefined;
  if (!a) return undefined;
  const i = a['introspection'] as Raw | undefined;
  const issuer = a['issuer'] as string | undefined;
  return {
    issuer,
    authorizationServers: (a['authorization_servers'] as string[] | undefined) ?? (issuer ? [issuer] : []),
    jwksUri: a['jwks_uri'] as string | undefined,
    jwksFile: a['jwks_file'] as string | undefined,
    audiences: a['audiences'] as string[] | undefined,
    algorithms: (a['algorithms'] as string[] | undefined) ?? DEFAULT_ALGS,
    clockToleranceS: (a['clock_tolerance_s'] as number | undefined) ?? 30,
    scopeClaims: (a['scope_claims'] as string[] | undefined) ?? ['scope', 'scp'],
    requiredClaims: (a['required_claims'] as string[] | undefined) ?? [],
    requiredScopes: (a['required_scopes'] as string[] | undefined) ?? [],
    scopesSupported: a['scopes_supported'] as string[] | undefined,
    maxTokenBytes: (a['max_token_bytes'] as number | undefined) ?? 8192,
    jwksCacheMs: ((a['jwks_cache_s'] as number | undefined) ?? 600) * 1000,
    jwksCooldownMs: ((a['jwks_refresh_cooldown_s'] as number | undefined) ?? 30) * 1000,
    allowPrivateNetworks: (a['allow_private_networks'] as boolean | undefined) ?? false,
    resourceName: a['resource_name'] as string | undefined,
    documentation: a['resource_documentation'] as string | undefined,
    introspection: i
      ? {
          url: i['url'] as string | undefined,
          clientId: i['client_id'] as string,
          clientSecret: i['client_secret'] as string | undefined,
          cacheMs: ((i['cache_s'] as number | undefined) ?? 60) * 1000,
          failureCacheMs: ((i['failure_cache_s'] as number | undefined) ?? 10) * 1000,
          maxPerSecond: (i['max_per_second'] as number | undefined) ?? 20,
          maxEntries: (i['max_entries'] as number | undefined) ?? 10_000,
        }
      : undefined,
  };
}

/** Why a token was refused; `status` 401 unless said otherwise. */
export class TokenError extends Error {
  constructor(
    message: string,
    readonly error: 'invalid_token' | 'invalid_request' | 'insufficient_scope' | 'temporarily_unavailable' = 'invalid_token',
    readonly status = 401,
  ) {
    super(message);
  }
}

interface CacheEntry {
  /** Until when it holds, on performance.now()'s clock (a wall clock set back would keep a revoked token cached). */
  until: number;
  principal?: Principal;
  error?: TokenError;
  /** Audiences the introspected token is valid for. */
  aud?: string[];
}

/** A token bucket: `rate` per second, burst `rate`. */
class Bucket {
  private tokens: number;
  private last = performance.now();
  constructor(private readonly rate: number) {
    this.tokens = rate;
  }
  take(): boolean {
    // A clock that only moves forward: the wall clock set back would hold introspection off for as long.
    const now = performance.now();
    this.tokens = Math.min(this.rate, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

function tokenRef(token: string): string {
  return `sha256:${createHash('sha256').update(token).digest('hex').slice(0, 16)}`;
}

function normalizeResource(u: string): string {
  try {
    const url = new URL(u);
    url.hash = '';
    let s = url.toString();
    if (s.endsWith('/')) s = s.slice(0, -1);
    return s;
  } catch {
    return u;
  }
}

function looksLikeJwt(token: string): boolean {
  const parts = token.split('.');
  if (parts.length !== 3) return false;
  try {
    const h = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as unknown;
    return typeof h === 'object' && h !== null && typeof (h as Raw)['alg'] === 'string';
  } catch {
    return false;
  }
}

export class ResourceServer {
  private base: string | undefined;
  private jwks: jose.JWTVerifyGetKey | undefined;
  private oidcConfig: oidc.Configuration | undefined;
  private ready: Promise<void> | undefined;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inflight = new Map<string, Promise<CacheEntry>>();
  private readonly bucket: Bucket | undefined;
  private readonly egress: EgressPolicy;
  /** Introspection calls made (for tests and metrics). */
  introspections = 0;
  private readonly single: string | undefined;

  constructor(
    private readonly settings: AuthSettings,
    private readonly servers: ServerConfig[],
    private readonly opts: { log: Logger; events?: SessionEvents; publicUrl?: string; baseDir?: string; clientAddress?: (req: IncomingMessage) => string },
  ) {
    this.base = opts.publicUrl?.replace(/\/+$/, '');
    this.bucket = settings.introspection ? new Bucket(settings.introspection.maxPerSecond) : undefined;
    // Loopback is reachable when the administrator named a loopback URL (a local identity provider or key server).
    const loop = [settings.issuer, settings.jwksUri, settings.introspection?.url].some((u) => loopbackUrl(u));
    this.egress = { allowLoopback: loop, allowPrivate: settings.allowPrivateNetworks };
    this.single = servers.length === 1 ? servers[0]!.name : undefined;
    // Local keys are read now, so a bad file stops the start; discovery and remote keys come in load().
    if (settings.jwksFile) this.jwks = fileKeySet(settings.jwksFile, opts.log);
  }

  /** The base URL resources are named under: the configured public URL, else the bound loopback address. */
  setBoundAddress(url: string): void {
    this.base ??= url.replace(/\/+$/, '');
  }

  /** Discovery and key loading; failures surface per request as 503 and retry on the next one. */
  start(): Promise<void> {
    this.ready ??= this.load().catch((e: Error) => {
      this.ready = undefined;
      throw e;
    });
    return this.ready;
  }

  private async load(): Promise<void> {
    const s = this.settings;
    const customFetch = guardedFetch(this.egress);
    const needsClient = s.issuer && (!s.jwksUri && !s.jwksFile || (s.introspection && !s.introspection.url));
    if (needsClient) {
      const issuer = new URL(s.issuer!);
      const clientId = s.introspection?.clientId ?? 'mcp-warden';
      const auth = s.introspection?.clientSecret ? oidc.ClientSecretBasic(s.introspection.clientSecret) : oidc.None();
      const options: oidc.DiscoveryRequestOptions = { [oidc.customFetch]: customFetch as oidc.CustomFetch, execute: issuer.protocol === 'http:' ? [oidc.allowInsecureRequests] : [] };
      try {
        this.oidcConfig = await oidc.discovery(issuer, clientId, undefined, auth, options);
      } catch {
        this.oidcConfig = await oidc.discovery(issuer, clientId, undefined, auth, { ...options, algorithm: 'oauth2' });
      }
    } else if (s.introspection?.url) {
      const meta: oidc.ServerMetadata = { issuer: s.issuer ?? new URL(s.introspection.url).origin, introspection_endpoint: s.introspection.url };
      const auth = s.introspection.clientSecret ? oidc.ClientSecretBasic(s.introspection.clientSecret) : oidc.None();
      this.oidcConfig = new oidc.Configuration(meta, s.introspection.clientId, undefined, auth);
      if (new URL(s.introspection.url).protocol === 'http:') oidc.allowInsecureRequests(this.oidcConfig);
    }
    if (this.oidcConfig) this.oidcConfig[oidc.customFetch] = customFetch as oidc.CustomFetch;
    if (!s.jwksFile) {
      const uri = s.jwksUri ?? this.oidcConfig?.serverMetadata().jwks_uri;
      if (uri) {
        await checkEgress(uri, this.egress);
        this.jwks = jose.createRemoteJWKSet(new URL(uri), { cooldownDuration: s.jwksCooldownMs, cacheMaxAge: s.jwksCacheMs, timeoutDuration: 5_000, [jose.customFetch]: customFetch as jose.FetchImplementation });
      }
    }
    if (!this.jwks && !s.introspection) throw new Error('auth: no way to check tokens (no JWKS found and no introspection configured)');
  }

  /** Every resource URI a server answers under, for `aud` checks and metadata. */
  resources(server: string): string[] {
    const base = this.base ?? '';
    const out = [`${base}/${server}/mcp`, `${base}/${server}/sse`, `${base}/${server}/message`, `${base}/${server}/ws`];
    if (this.single === server) out.unshift(`${base}/mcp`, `${base}/ws`);
    return out;
  }

  private audiences(server: string): Set<string> {
    const cfg = this.servers.find((s) => s.name === server);
    const configured = (cfg?.raw['audiences'] as string[] | undefined) ?? this.settings.audiences;
    return new Set((configured ?? this.resources(server)).map(normalizeResource));
  }

  private requiredScopes(server: string): string[] {
    const cfg = this.servers.find((s) => s.name === server);
    return [...new Set([...this.settings.requiredScopes, ...((cfg?.raw['required_scopes'] as string[] | undefined) ?? [])])];
  }

  private scopesSupported(server: string): string[] {
    const cfg = this.servers.find((s) => s.name === server);
    return (cfg?.raw['scopes_supported'] as string[] | undefined) ?? this.settings.scopesSupported ?? this.requiredScopes(server);
  }

  /** The metadata URL for the endpoint path a client used (path-inserted, RFC 9728 §3.1). */
  metadataUrl(path: string): string {
    return `${this.base ?? ''}/.well-known/oauth-protected-resource${path}`;
  }

  /**
   * The `WWW-Authenticate` value, laid out as the MCP authorization spec's examples: without a token
   * `Bearer resource_metadata="…", scope="…"`; with one `Bearer error="…", scope="…", resource_metadata="…",
   * error_description="…"`.
   */
  challenge(server: string, path: string, e?: TokenError, scopes?: string[]): string {
    const sc = scopes ?? this.scopesSupported(server);
    const rm = `resource_metadata=${quotedString(this.metadataUrl(path))}`;
    const scope = sc.length ? [`scope=${quotedString(sc.join(' '))}`] : [];
    if (!e) return `Bearer ${[rm, ...scope].join(', ')}`;
    return `Bearer ${[`error=${quotedString(e.error)}`, ...scope, rm, `error_description=${quotedString(e.message)}`].join(', ')}`;
  }

  /** The hooks the gateway calls. */
  hooks(): Pick<GatewayHooks, 'authenticate' | 'route' | 'scopeChallenge'> {
    return {
      authenticate: (req, res, endpoint) => this.authenticate(req, res, endpoint),
      route: (req, res, path) => this.route(req, res, path),
      scopeChallenge: (server, scopes) => {
        const path = `/${server}/mcp`;
        return this.challenge(server, path, new TokenError(`This operation needs the scopes: ${scopes.join(' ')}`, 'insufficient_scope', 403), scopes);
      },
    };
  }

  private refuse(req: IncomingMessage, res: ServerResponse, server: string, path: string, e: TokenError | undefined, reason: string): AuthResult {
    const status = e?.status ?? 401;
    const headers: Record<string, string> = {};
    if (status === 503) headers['retry-after'] = '1';
    else headers['www-authenticate'] = this.challenge(server, path, e, e?.error === 'insufficient_scope' ? this.requiredScopes(server) : undefined);
    // Behind a trusted reverse proxy, the client it forwarded for (listen.trusted_proxies), not the proxy.
    const source = this.opts.clientAddress?.(req) ?? req.socket.remoteAddress ?? 'unknown';
    this.opts.events?.event('auth_failure', { server, transport: 'http' }, { reason, status: String(status), source, method: req.method });
    this.opts.log.info({ server, path, status, reason, source }, 'request refused by auth');
    const message = status === 401 ? (e ? `Unauthorized: ${e.message}` : 'Unauthorized: a bearer token is required') : status === 403 ? `Forbidden: ${e!.message}` : e!.message;
    sendJson(res, status, errorResponse(null, -32000, message), headers);
    return { refused: true };
  }

  async authenticate(req: IncomingMessage, res: ServerResponse, endpoint: { server: string; path: string }): Promise<AuthResult> {
    const { server, path } = endpoint;
    const query = (req.url ?? '').includes('?') ? new URL(req.url!, 'http://x').searchParams : undefined;
    if (query?.has('access_token')) {
      return this.refuse(req, res, server, path, new TokenError('Send the access token in the Authorization header only, never in the URL', 'invalid_request', 400), 'token in query string');
    }
    const header = req.headers.authorization;
    if (!header) return this.refuse(req, res, server, path, undefined, 'no token');
    const m = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
    if (!m) {
      if (!/^Bearer\b/i.test(header)) return this.refuse(req, res, server, path, undefined, 'not a bearer token');
      return this.refuse(req, res, server, path, new TokenError('The access token is malformed'), 'malformed token');
    }
    const token = m[1]!;
    if (token.length > this.settings.maxTokenBytes) return this.refuse(req, res, server, path, new TokenError('The access token is too long'), 'oversized token');
    let principal: Principal;
    try {
      principal = await this.validate(token, server);
    } catch (e) {
      const te = e instanceof TokenError ? e : new TokenError('The access token could not be validated');
      return this.refuse(req, res, server, path, te, te.message);
    }
    const need = this.requiredScopes(server);
    const missing = need.filter((s) => !principal.scopes.includes(s));
    if (missing.length) {
      return this.refuse(req, res, server, path, new TokenError(`This server needs the scopes: ${need.join(' ')}`, 'insufficient_scope', 403), `missing scopes ${missing.join(' ')}`);
    }
    setCallerToken(principal, token);
    return { principal };
  }

  /** Validates a token for a server's endpoints; throws TokenError. */
  async validate(token: string, server: string): Promise<Principal> {
    try {
      await this.start();
    } catch (e) {
      this.opts.log.error({ err: (e as Error).message }, 'authorization server unreachable: every request is refused until it answers');
      throw new TokenError('The authorization server cannot be reached; try again shortly', 'temporarily_unavailable', 503);
    }
    if (looksLikeJwt(token) && this.jwks) return this.validateJwt(token, server);
    if (this.settings.introspection && this.oidcConfig) return this.introspect(token, server);
    throw new TokenError('The access token is not a JWT this server can verify');
  }

  private async validateJwt(token: string, server: string): Promise<Principal> {
    const s = this.settings;
    let payload: jose.JWTPayload;
    try {
      const r = await jose.jwtVerify(token, this.jwks!, {
        algorithms: s.algorithms,
        issuer: s.issuer,
        clockTolerance: s.clockToleranceS,
        requiredClaims: ['exp', ...s.requiredClaims],
      });
      payload = r.payload;
    } catch (e) {
      if (keySourceFailed(e)) {
        // Not the token's fault: the keys could not be fetched. Refuse (fail closed) with 503, so the client retries
        // rather than throwing its token away.
        this.opts.log.error({ err: (e as Error).message }, 'signing keys could not be fetched: requests are refused until they can');
        throw new TokenError('The authorization server\'s signing keys cannot be fetched; try again shortly', 'temporarily_unavailable', 503);
      }
      throw new TokenError(jwtReason(e));
    }
    if (!s.issuer && typeof payload.iss !== 'string') throw new TokenError('The access token has no issuer');
    if (typeof payload.iat === 'number' && payload.iat > Date.now() / 1000 + s.clockToleranceS) throw new TokenError('The access token was issued in the future');
    const aud = typeof payload.aud === 'string' ? [payload.aud] : Array.isArray(payload.aud) ? payload.aud : [];
    const accepted = this.audiences(server);
    if (!aud.some((a) => typeof a === 'string' && accepted.has(normalizeResource(a)))) throw new TokenError('The access token was not issued for this server (audience)');
    return this.principalFrom(payload as Raw, token);
  }

  private principalFrom(claims: Raw, token: string): Principal {
    const scopes = new Set<string>();
    for (const c of this.settings.scopeClaims) {
      const v = claims[c];
      if (typeof v === 'string') for (const x of v.split(/\s+/)) if (x) scopes.add(x);
      if (Array.isArray(v)) for (const x of v) if (typeof x === 'string') scopes.add(x);
    }
    const clientId = (['client_id', 'azp', 'cid', 'appid'].map((k) => claims[k]).find((v) => typeof v === 'string') as string | undefined) ?? undefined;
    const sub = typeof claims['sub'] === 'string' && claims['sub'] ? (claims['sub'] as string) : clientId ? `client:${clientId}` : undefined;
    if (!sub) throw new TokenError('The access token names no subject');
    const { roles } = claims;
    const clean: Raw = {};
    for (const [k, v] of Object.entries(claims)) if (k !== '__proto__' && k !== 'constructor') clean[k] = v;
    if (Array.isArray(roles)) clean['roles'] = roles.filter((r) => typeof r === 'string');
    return {
      sub,
      kind: 'oauth',
      clientId,
      issuer: typeof claims['iss'] === 'string' ? (claims['iss'] as string) : this.settings.issuer,
      scopes: [...scopes],
      claims: clean,
      tokenRef: typeof claims['jti'] === 'string' ? `jti:${(claims['jti'] as string).slice(0, 128)}` : tokenRef(token),
      expiresAt: typeof claims['exp'] === 'number' ? (claims['exp'] as number) : undefined,
    };
  }

  private async introspect(token: string, server: string): Promise<Principal> {
    const key = createHash('sha256').update(token).digest('base64url');
    const now = performance.now();
    let entry = this.cache.get(key);
    if (entry && entry.until <= now) {
      this.cache.delete(key);
      entry = undefined;
    }
    if (!entry) {
      let p = this.inflight.get(key);
      if (!p) {
        if (!this.bucket!.take()) throw new TokenError('Too many tokens to check right now; try again shortly', 'temporarily_unavailable', 503);
        p = this.callIntrospection(token).finally(() => this.inflight.delete(key));
        this.inflight.set(key, p);
      }
      entry = await p;
      this.cache.delete(key);
      this.cache.set(key, entry);
      while (this.cache.size > this.settings.introspection!.maxEntries) this.cache.delete(this.cache.keys().next().value!);
    }
    if (entry.error) throw entry.error;
    if (entry.principal!.expiresAt !== undefined && entry.principal!.expiresAt * 1000 <= Date.now()) throw new TokenError('The access token expired');
    const accepted = this.audiences(server);
    if (!entry.aud!.some((a) => accepted.has(normalizeResource(a)))) throw new TokenError('The access token was not issued for this server (audience)');
    return entry.principal!;
  }

  private async callIntrospection(token: string): Promise<CacheEntry> {
    const i = this.settings.introspection!;
    this.introspections++;
    const now = Date.now();
    const mono = performance.now();
    let r: oidc.IntrospectionResponse;
    try {
      r = await oidc.tokenIntrospection(this.oidcConfig!, token);
    } catch (e) {
      this.opts.log.warn({ err: (e as Error).message }, 'token introspection failed');
      return { until: mono + Math.min(i.failureCacheMs, 2000), error: new TokenError('The authorization server could not check the token; try again shortly', 'temporarily_unavailable', 503) };
    }
    const fail = (msg: string): CacheEntry => ({ until: mono + i.failureCacheMs, error: new TokenError(msg) });
    if (r.active !== true) return fail('The access token is not active');
    if (typeof r.exp === 'number' && r.exp * 1000 <= now) return fail('The access token expired');
    if (typeof r.nbf === 'number' && r.nbf > now / 1000 + this.settings.clockToleranceS) return fail('The access token is not valid yet');
    if (this.settings.issuer && r.iss !== undefined && r.iss !== this.settings.issuer) return fail('The access token was issued by another authorization server');
    if (r.token_type !== undefined && typeof r.token_type === 'string' && !/^(bearer|access_token)$/i.test(r.token_type)) return fail('The token is not an access token');
    const aud = typeof r.aud === 'string' ? [r.aud] : Array.isArray(r.aud) ? r.aud.filter((a): a is string => typeof a === 'string') : [];
    if (aud.length === 0) return fail('The access token names no audience');
    for (const c of this.settings.requiredClaims) if (r[c] === undefined) return fail(`The access token lacks the claim ${c}`);
    let principal: Principal;
    try {
      principal = this.principalFrom({ ...(r as Raw), iss: r.iss ?? this.settings.issuer }, token);
    } catch (e) {
      return { until: mono + i.failureCacheMs, error: e as TokenError };
    }
    // No longer than cache_s, nor past the token's expiry (a wall-clock time, measured from now).
    const until = mono + Math.min(i.cacheMs, typeof r.exp === 'number' ? r.exp * 1000 - now : Infinity);
    return { until, principal, aud };
  }

  /** RFC 9728 documents. */
  route(req: IncomingMessage, res: ServerResponse, path: string): boolean {
    const prefix = '/.well-known/oauth-protected-resource';
    if (path !== prefix && !path.startsWith(`${prefix}/`)) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(res, 405, { error: 'method_not_allowed' }, { allow: 'GET' });
      return true;
    }
    const rest = path.slice(prefix.length);
    let server: string | undefined;
    let resourcePath: string | undefined;
    const m = /^\/([A-Za-z0-9][A-Za-z0-9._-]{0,63})\/(mcp|sse|ws)$/.exec(rest);
    if (m && this.servers.some((s) => s.name === m[1])) {
      server = m[1];
      resourcePath = rest;
    } else if ((rest === '/mcp' || rest === '/ws' || rest === '') && this.single) {
      server = this.single;
      resourcePath = rest === '/ws' ? '/ws' : '/mcp';
    }
    if (!server) {
      sendJson(res, 404, { error: 'not_found' });
      return true;
    }
    const doc: Raw = {
      resource: `${this.base ?? ''}${resourcePath}`,
      authorization_servers: this.settings.authorizationServers,
      bearer_methods_supported: ['header'],
      resource_name: this.settings.resourceName ?? `${server} (through mcp-warden)`,
    };
    const scopes = this.scopesSupported(server);
    if (scopes.length) doc['scopes_supported'] = scopes;
    if (this.settings.documentation) doc['resource_documentation'] = this.settings.documentation;
    sendJson(res, 200, doc, { 'cache-control': 'public, max-age=300', 'access-control-allow-origin': '*' });
    return true;
  }
}

/** The JWKS endpoint failed (timeout, HTTP error, network, not a key set), as opposed to the token being bad. */
function keySourceFailed(e: unknown): boolean {
  if (e instanceof jose.errors.JWKSTimeout || e instanceof jose.errors.JWKSInvalid || e instanceof EgressError) return true;
  const tokenErrors = [jose.errors.JWTExpired, jose.errors.JWTClaimValidationFailed, jose.errors.JWTInvalid, jose.errors.JWSInvalid, jose.errors.JOSEAlgNotAllowed, jose.errors.JWKSNoMatchingKey, jose.errors.JWKSMultipleMatchingKeys, jose.errors.JWSSignatureVerificationFailed, jose.errors.JOSENotSupported, jose.errors.JWKInvalid];
  if (tokenErrors.some((c) => e instanceof c)) return false;
  // jose's own "Expected 200 OK from the JSON Web Key Set HTTP response", and fetch's network errors.
  return e instanceof Error && (/JSON Web Key Set|fetch failed|ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|refused|egress/i.test(e.message) || e.name === 'AbortError' || e.name === 'TimeoutError');
}

function jwtReason(e: unknown): string {
  if (e instanceof jose.errors.JWTExpired) return 'The access token expired';
  if (e instanceof jose.errors.JWTClaimValidationFailed) {
    if (e.claim === 'iss') return 'The access token was issued by another authorization server';
    if (e.claim === 'nbf') return 'The access token is not valid yet';
    return `The access token failed the ${e.claim} check`;
  }
  if (e instanceof jose.errors.JOSEAlgNotAllowed) return 'The access token uses an algorithm this server does not accept';
  if (e instanceof jose.errors.JWKSNoMatchingKey) return 'The access token was signed with an unknown key';
  if (e instanceof jose.errors.JWSSignatureVerificationFailed) return 'The access token signature is invalid';
  if (e instanceof jose.errors.JWKSTimeout) return 'The signing keys could not be fetched in time';
  return 'The access token is invalid';
}

/**
 * The raw token each principal came with, kept for RFC 8693 token exchange only (the subject token). It lives
 * outside every object that is logged, serialised or audited, keyed by the principal object the request carries
 * (a new one per validated JWT; one per cached introspection), so an exchange for a request uses the token that
 * sent it, never the latest token of another client of the same person. Dropped with the principal or at expiry.
 */
const callerTokens = new WeakMap<Principal, string>();
export function setCallerToken(p: Principal, token: string): void {
  callerTokens.set(p, token);
}
export function callerToken(p: Principal): string | undefined {
  if (p.expiresAt !== undefined && p.expiresAt * 1000 <= Date.now()) return undefined;
  return callerTokens.get(p);
}
