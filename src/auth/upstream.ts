/**
 * Credentials the proxy presents to a remote server (`servers.<name>.auth`). The caller's own token is never one
 * of them (no token passthrough, MCP authorization §Access Token Privilege Restriction):
 *
 *   { type: bearer, token | token_file }                      a static token from the environment or a file
 *   { type: header, name, value | value_file }                any static header (API keys)
 *   { type: client_credentials, issuer | token_endpoint, client_id, client_secret | client_secret_file,
 *     scope?, resource?, audience? }                          the proxy's own token, RFC 8707 resource = upstream URL
 *   { type: token_exchange, … same …, audience? }            RFC 8693: the caller's token is the subject token,
 *                                                             exchanged for one whose audience is the upstream
 *   { type: oauth, client_id?, client_secret?, scope?, redirect_port? }   wrap --url: a person's login (login.ts)
 *
 * Every fetch goes through the egress guard (HTTPS except loopback, no private ranges unless allowed).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as oidc from 'openid-client';
import type { ServerConfig } from '../config/config.js';
import type { Logger } from '../log/logger.js';
import type { Principal } from '../pipeline/types.js';
import { guardedFetch, loopbackUrl, type EgressPolicy } from './egress.js';
export { loopbackUrl };
import { callerToken } from './resource-server.js';
import { configPath } from '../config/paths.js';

export interface CredentialProvider {
  /** Headers for the next request to the upstream, sent for `principal` (token exchange; others ignore it). */
  headers(principal?: Principal): Promise<Record<string, string>>;
  /**
   * The upstream answered 401 to a request sent for `principal`: obtain a fresh credential; true when the request
   * should be sent once more.
   */
  unauthorized?(challenge: string | undefined, principal?: Principal): Promise<boolean>;
}

type Raw = Record<string, unknown>;

export interface CredentialContext {
  mode: 'wrap' | 'serve';
  log: Logger;
  baseDir: string;
  /** The principal that opened the session: token exchange for a message that names no caller (a WebSocket). */
  principal?: Principal;
}

function secretFrom(a: Raw, key: string, baseDir: string): string | undefined {
  const v = a[key];
  if (typeof v === 'string') return v;
  const f = a[`${key}_file`];
  if (typeof f === 'string') return readFileSync(configPath(f, baseDir), 'utf8').trim();
  return undefined;
}

/** Token endpoint client for client_credentials and token_exchange, shared per server. */
class OAuthClient {
  private config: Promise<oidc.Configuration> | undefined;
  readonly egress: EgressPolicy;

  constructor(private readonly a: Raw, private readonly baseDir: string) {
    const first = (a['token_endpoint'] as string | undefined) ?? (a['issuer'] as string | undefined);
    this.egress = { allowLoopback: loopbackUrl(first), allowPrivate: a['allow_private_networks'] === true };
  }

  configuration(): Promise<oidc.Configuration> {
    this.config ??= this.load().catch((e: Error) => {
      this.config = undefined;
      throw e;
    });
    return this.config;
  }

  /**
   * Runs a grant; when the token endpoint says the client is not who it claims (`invalid_client`: the secret in
   * `client_secret_file` was rotated since it was read), reads the secret again and tries once more.
   */
  async grant<T>(run: (config: oidc.Configuration) => Promise<T>): Promise<T> {
    try {
      return await run(await this.configuration());
    } catch (e) {
      if (typeof this.a['client_secret_file'] !== 'string' || (e as { error?: unknown }).error !== 'invalid_client') throw e;
      this.config = undefined;
      return run(await this.configuration());
    }
  }

  private async load(): Promise<oidc.Configuration> {
    const a = this.a;
    const clientId = a['client_id'] as string;
    const secret = secretFrom(a, 'client_secret', this.baseDir);
    const auth = secret ? oidc.ClientSecretPost(secret) : oidc.None();
    const customFetch = guardedFetch(this.egress) as oidc.CustomFetch;
    let config: oidc.Configuration;
    const tokenEndpoint = a['token_endpoint'] as string | undefined;
    if (tokenEndpoint) {
      config = new oidc.Configuration({ issuer: (a['issuer'] as string | undefined) ?? new URL(tokenEndpoint).origin, token_endpoint: tokenEndpoint }, clientId, undefined, auth);
      if (new URL(tokenEndpoint).protocol === 'http:') oidc.allowInsecureRequests(config);
    } else {
      const issuer = new URL(a['issuer'] as string);
      const options: oidc.DiscoveryRequestOptions = { [oidc.customFetch]: customFetch, execute: issuer.protocol === 'http:' ? [oidc.allowInsecureRequests] : [] };
      try {
        config = await oidc.discovery(issuer, clientId, undefined, auth, options);
      } catch {
        config = await oidc.discovery(issuer, clientId, undefined, auth, { ...options, algorithm: 'oauth2' });
      }
    }
    config[oidc.customFetch] = customFetch;
    return config;
  }
}

interface Cached {
  token: string;
  until: number;
}

function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

const clients = new Map<string, OAuthClient>();
function clientFor(server: ServerConfig, a: Raw, baseDir: string): OAuthClient {
  let c = clients.get(server.name);
  if (!c) clients.set(server.name, (c = new OAuthClient(a, baseDir)));
  return c;
}

/** Tokens obtained by client credentials, one per server (all sessions share it). */
const ccTokens = new Map<string, Promise<Cached> | Cached>();
/** Tokens obtained by exchange, per server and subject token. */
const exTokens = new Map<string, Cached>();
const MAX_EXCHANGED = 10_000;

/**
 * When a cached token stops being used, on the monotonic clock (`performance.now()`): with the wall clock, a clock set
 * back kept a token in use past its life (until the upstream refused it).
 */
function expiry(r: { expires_in?: number }): number {
  const s = typeof r.expires_in === 'number' && r.expires_in > 0 ? r.expires_in : 300;
  return performance.now() + Math.max(5, s - 30) * 1000;
}

export function upstreamCredentials(server: ServerConfig, ctx: CredentialContext): CredentialProvider | undefined {
  const a = server.raw['auth'] as Raw | undefined;
  if (!a) return undefined;
  const type = a['type'];
  if (type === 'bearer' || type === 'header') {
    const key = type === 'bearer' ? 'token' : 'value';
    let secret = secretFrom(a, key, ctx.baseDir);
    if (!secret) throw new Error(`servers.${server.name}.auth: ${type} needs ${key} or ${key}_file`);
    const name = String(a['name']).toLowerCase();
    return {
      headers: async () => (type === 'bearer' ? bearer(secret!) : { [name]: secret! }),
      // A secret kept in a file may have been rotated since it was read (a long-running wrap reads it once): on 401
      // it is read again, and the request sent once more if it changed.
      unauthorized: async () => {
        if (typeof a[`${key}_file`] !== 'string') return false;
        let fresh: string | undefined;
        try {
          fresh = secretFrom(a, key, ctx.baseDir);
        } catch {
          return false;
        }
        if (!fresh || fresh === secret) return false;
        secret = fresh;
        ctx.log.info({ server: server.name }, `read the upstream credential again (auth.${key}_file changed)`);
        return true;
      },
    };
  }
  const resource = (a['resource'] as string | undefined) ?? server.url;
  if (type === 'client_credentials') {
    const client = clientFor(server, a, ctx.baseDir);
    const fetchToken = async (): Promise<Cached> => {
      const params: Record<string, string> = {};
      if (typeof a['scope'] === 'string') params['scope'] = a['scope'];
      if (resource) params['resource'] = resource;
      if (typeof a['audience'] === 'string') params['audience'] = a['audience'];
      const r = await client.grant((config) => oidc.clientCredentialsGrant(config, params));
      ctx.log.info({ server: server.name }, 'obtained an upstream token (client credentials)');
      return { token: r.access_token, until: expiry(r) };
    };
    const current = async (): Promise<Cached> => {
      const c = ccTokens.get(server.name);
      if (c && !(c instanceof Promise) && c.until > performance.now()) return c;
      if (c instanceof Promise) return c;
      const p = fetchToken();
      ccTokens.set(server.name, p);
      try {
        const got = await p;
        ccTokens.set(server.name, got);
        return got;
      } catch (e) {
        ccTokens.delete(server.name);
        throw e;
      }
    };
    return {
      headers: async () => bearer((await current()).token),
      unauthorized: async () => {
        ccTokens.delete(server.name);
        return true;
      },
    };
  }
  if (type === 'token_exchange') {
    const client = clientFor(server, a, ctx.baseDir);
    /** Where the token exchanged for this subject token is cached. */
    const keyOf = (subject: string) => `${server.name}\n${createHash('sha256').update(subject).digest('base64url')}`;
    /** The subject token is the token of the caller this message is for, never another client's of the same person. */
    const callerOf = (caller: Principal | undefined) => {
      const principal = caller ?? ctx.principal;
      return { principal, subject: principal ? callerToken(principal) : undefined };
    };
    const exchange = async (caller: Principal | undefined): Promise<string> => {
      const { principal, subject } = callerOf(caller);
      if (!subject) throw new Error('token exchange needs the caller\'s access token, and this session has none (a stdio host or an expired token)');
      const key = keyOf(subject);
      const hit = exTokens.get(key);
      if (hit && hit.until > performance.now()) return hit.token;
      const params: Record<string, string> = {
        subject_token: subject,
        subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        requested_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      };
      if (resource) params['resource'] = resource;
      params['audience'] = (a['audience'] as string | undefined) ?? resource ?? '';
      if (!params['audience']) delete params['audience'];
      if (typeof a['scope'] === 'string') params['scope'] = a['scope'];
      const r = await client.grant((config) => oidc.genericGrantRequest(config, 'urn:ietf:params:oauth:grant-type:token-exchange', params));
      // The exchanged token must not outlive the caller's.
      // The caller's token expiry is a wall-clock time: counted from now on the monotonic clock.
      const until = Math.min(expiry(r), principal?.expiresAt ? performance.now() + (principal.expiresAt * 1000 - Date.now()) : Infinity);
      exTokens.set(key, { token: r.access_token, until });
      while (exTokens.size > MAX_EXCHANGED) exTokens.delete(exTokens.keys().next().value!);
      ctx.log.info({ server: server.name, sub: principal?.sub }, 'exchanged the caller\'s token for an upstream token (RFC 8693)');
      return r.access_token;
    };
    return {
      headers: async (caller) => bearer(await exchange(caller)),
      // The upstream refused the token exchanged for this caller (revoked, or expired before the time it gave): the
      // next request exchanges again, instead of every call failing until the cached token's expiry. Only this
      // caller's: one whose exchanged tokens keep being refused must not make everyone else's be exchanged anew.
      unauthorized: async (_challenge, caller) => {
        const { subject } = callerOf(caller);
        if (!subject) return false;
        exTokens.delete(keyOf(subject));
        return true;
      },
    };
  }
  return undefined;
}
