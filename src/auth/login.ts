/**
 * `wrap --url` against a server that wants a person's login: OAuth 2.1 authorization code with PKCE (S256) in the
 * browser, as an MCP client does it (MCP authorization, both eras):
 *
 *  1. the server answers 401 with `WWW-Authenticate: Bearer resource_metadata=…` (else the well-known URIs are
 *     tried, path-inserted first); the RFC 9728 document's `resource` must be the server's URL or a prefix of it;
 *  2. the authorization server's metadata comes from discovery (its `issuer` must equal the one named);
 *  3. the client is the configured `client_id` (a client id metadata document URL works too), else one kept from
 *     an earlier registration, else dynamic registration (RFC 7591) with a fixed loopback redirect URI;
 *  4. the browser opens the authorization URL (`state`, PKCE, `resource` = the server URL per RFC 8707); the
 *     loopback callback is checked for `state` and, when the server supports it, the RFC 9207 `iss` parameter;
 *  5. tokens are kept encrypted (token-store.ts), refreshed before they expire and after a 401, and reused after a
 *     restart. A refresh that fails falls back to a new login.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import * as oidc from 'openid-client';
import type { Logger } from '../log/logger.js';
import { checkEgress, guardedFetch, type EgressPolicy } from './egress.js';
import { TokenStore } from './token-store.js';
import { loopbackUrl, type CredentialProvider } from './upstream.js';

export interface LoginOptions {
  serverUrl: string;
  server: string;
  clientId?: string;
  clientSecret?: string;
  scope?: string;
  redirectPort?: number;
  allowPrivate: boolean;
  store: TokenStore;
  log: Logger;
  /** Where the authorization URL is announced (stderr: stdout belongs to the protocol). */
  announce?: (url: string) => void;
  /** Open the system browser (default: unless MCP_WARDEN_NO_BROWSER is set). */
  openBrowser?: boolean;
  loginTimeoutMs?: number;
}

interface Record_ {
  issuer: string;
  clientId: string;
  clientSecret?: string;
  redirectUri: string;
  accessToken?: string;
  refreshToken?: string;
  expiresAt?: number;
  obtainedAt?: number;
  scope?: string;
}

function parseChallenge(header: string | undefined): { resourceMetadata?: string; scope?: string } {
  if (!header) return {};
  const out: Record<string, string> = {};
  for (const m of header.matchAll(/([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"/g)) out[m[1]!.toLowerCase()] = m[2]!.replace(/\\(.)/g, '$1');
  return { resourceMetadata: out['resource_metadata'], scope: out['scope'] };
}

function openInBrowser(url: string): void {
  const u = new URL(url);
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return;
  const cmd = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'rundll32' : 'xdg-open';
  const args = process.platform === 'win32' ? ['url.dll,FileProtocolHandler', url] : [url];
  try {
    const child = spawn(cmd, args, { stdio: 'ignore', detached: true });
    child.on('error', () => undefined);
    child.unref();
  } catch {
    /* the URL is printed anyway */
  }
}

export class OAuthLogin implements CredentialProvider {
  private record: Record_ | undefined;
  private config: oidc.Configuration | undefined;
  private busy: Promise<boolean> | undefined;
  private readonly egress: EgressPolicy;
  private readonly key: string;
  /** Counters for tests and logs. */
  readonly stats = { logins: 0, refreshes: 0 };

  constructor(private readonly o: LoginOptions) {
    this.egress = { allowLoopback: loopbackUrl(o.serverUrl), allowPrivate: o.allowPrivate };
    this.key = `login-${createHash('sha256').update(o.serverUrl).digest('hex').slice(0, 24)}`;
    this.record = o.store.read<Record_>(this.key);
  }

  async headers(): Promise<Record<string, string>> {
    if (this.busy) await this.busy.catch(() => false);
    const r = this.record;
    if (!r?.accessToken) return {};
    // Refresh a little before expiry: 30 s, or a quarter of a short lifetime.
    const margin = r.expiresAt !== undefined && r.obtainedAt !== undefined ? Math.min(30_000, (r.expiresAt - r.obtainedAt) / 4) : 30_000;
    if (r.expiresAt !== undefined && r.expiresAt - margin < Date.now() && r.refreshToken) {
      await this.serialised(() => this.refresh()).catch(() => false);
    }
    return this.record?.accessToken ? { authorization: `Bearer ${this.record.accessToken}` } : {};
  }

  unauthorized(challenge: string | undefined): Promise<boolean> {
    return this.serialised(async () => {
      if (this.record?.refreshToken && (await this.refresh().catch(() => false))) return true;
      return this.login(challenge);
    });
  }

  private serialised(f: () => Promise<boolean>): Promise<boolean> {
    if (this.busy) return this.busy;
    const p = f().finally(() => {
      if (this.busy === p) this.busy = undefined;
    });
    this.busy = p;
    return p;
  }

  private fetcher(): oidc.CustomFetch {
    return guardedFetch(this.egress) as oidc.CustomFetch;
  }

  private async configuration(issuer: string, clientId: string, clientSecret: string | undefined): Promise<oidc.Configuration> {
    if (this.config && this.config.serverMetadata().issuer === issuer && this.config.clientMetadata().client_id === clientId) return this.config;
    const url = new URL(issuer);
    await checkEgress(url, this.egress);
    const auth = clientSecret ? oidc.ClientSecretPost(clientSecret) : oidc.None();
    const options: oidc.DiscoveryRequestOptions = { [oidc.customFetch]: this.fetcher(), execute: url.protocol === 'http:' ? [oidc.allowInsecureRequests] : [] };
    let config: oidc.Configuration;
    try {
      config = await oidc.discovery(url, clientId, clientSecret, auth, { ...options, algorithm: 'oauth2' });
    } catch {
      config = await oidc.discovery(url, clientId, clientSecret, auth, options);
    }
    config[oidc.customFetch] = this.fetcher();
    return (this.config = config);
  }

  private save(): void {
    if (this.record) this.o.store.write(this.key, this.record);
  }

  private async refresh(): Promise<boolean> {
    const r = this.record;
    if (!r?.refreshToken) return false;
    const config = await this.configuration(r.issuer, r.clientId, r.clientSecret);
    try {
      const t = await oidc.refreshTokenGrant(config, r.refreshToken, { resource: this.o.serverUrl });
      r.accessToken = t.access_token;
      if (t.refresh_token) r.refreshToken = t.refresh_token;
      r.expiresAt = typeof t.expires_in === 'number' ? Date.now() + t.expires_in * 1000 : undefined;
      r.obtainedAt = Date.now();
      this.stats.refreshes++;
      this.save();
      this.o.log.info({ server: this.o.server }, 'refreshed the upstream access token');
      return true;
    } catch (e) {
      this.o.log.warn({ server: this.o.server, err: (e as Error).message }, 'refreshing the upstream token failed; a new login is needed');
      r.refreshToken = undefined;
      r.accessToken = undefined;
      this.save();
      return false;
    }
  }

  /** RFC 9728: the header's URL, else path-inserted, else root. */
  private async protectedResource(challenge: string | undefined): Promise<{ authorizationServer: string; scopes?: string[] }> {
    const server = new URL(this.o.serverUrl);
    const hinted = parseChallenge(challenge).resourceMetadata;
    const candidates = hinted ? [hinted] : [`${server.origin}/.well-known/oauth-protected-resource${server.pathname.replace(/\/$/, '')}`, `${server.origin}/.well-known/oauth-protected-resource`];
    const fetcher = guardedFetch(this.egress);
    for (const c of candidates) {
      const res = await fetcher(c, { headers: { accept: 'application/json' } }).catch(() => undefined);
      if (!res || res.status !== 200) continue;
      const doc = (await res.json().catch(() => undefined)) as { resource?: unknown; authorization_servers?: unknown; scopes_supported?: unknown } | undefined;
      if (!doc || typeof doc.resource !== 'string') continue;
      const resource = doc.resource.replace(/\/$/, '');
      const target = this.o.serverUrl.replace(/\/$/, '');
      if (target !== resource && !target.startsWith(`${resource}/`)) throw new Error(`the server's metadata names another resource (${resource.slice(0, 200)}), refusing to log in`);
      const as = Array.isArray(doc.authorization_servers) ? doc.authorization_servers.find((x): x is string => typeof x === 'string') : undefined;
      if (!as) throw new Error('the server\'s metadata names no authorization server');
      return { authorizationServer: as, scopes: Array.isArray(doc.scopes_supported) ? doc.scopes_supported.filter((x): x is string => typeof x === 'string') : undefined };
    }
    throw new Error('the server asked for a login but publishes no protected resource metadata');
  }

  private async login(challenge: string | undefined): Promise<boolean> {
    const o = this.o;
    const prm = await this.protectedResource(challenge);
    const port = this.record?.redirectUri ? Number(new URL(this.record.redirectUri).port) : (o.redirectPort ?? 0);
    const callback = await listenCallback(port);
    try {
      const redirectUri = `http://127.0.0.1:${callback.port}/callback`;
      let clientId = o.clientId ?? (this.record?.issuer === prm.authorizationServer && this.record.redirectUri === redirectUri ? this.record.clientId : undefined);
      let clientSecret = o.clientId ? o.clientSecret : this.record?.clientSecret;
      let config: oidc.Configuration;
      if (clientId) config = await this.configuration(prm.authorizationServer, clientId, clientSecret);
      else {
        const url = new URL(prm.authorizationServer);
        await checkEgress(url, this.egress);
        config = await oidc.dynamicClientRegistration(
          url,
          { redirect_uris: [redirectUri], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none', client_name: 'mcp-warden', application_type: 'native' },
          oidc.None(),
          { [oidc.customFetch]: this.fetcher(), execute: url.protocol === 'http:' ? [oidc.allowInsecureRequests] : [], algorithm: 'oauth2' },
        ).catch(async () => oidc.dynamicClientRegistration(
          url,
          { redirect_uris: [redirectUri], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none', client_name: 'mcp-warden', application_type: 'native' },
          oidc.None(),
          { [oidc.customFetch]: this.fetcher(), execute: url.protocol === 'http:' ? [oidc.allowInsecureRequests] : [] },
        ));
        config[oidc.customFetch] = this.fetcher();
        clientId = config.clientMetadata().client_id;
        clientSecret = config.clientMetadata().client_secret as string | undefined;
        this.config = config;
        o.log.info({ server: o.server }, 'registered mcp-warden with the authorization server (dynamic client registration)');
      }
      const meta = config.serverMetadata();
      if (meta.authorization_endpoint) await checkEgress(meta.authorization_endpoint, this.egress);
      if (meta.token_endpoint) await checkEgress(meta.token_endpoint, this.egress);
      const verifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      const scope = o.scope ?? parseChallenge(challenge).scope ?? prm.scopes?.join(' ');
      const params: Record<string, string> = {
        redirect_uri: redirectUri,
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
        resource: o.serverUrl,
      };
      if (scope) params['scope'] = scope;
      const authUrl = oidc.buildAuthorizationUrl(config, params);
      (o.announce ?? ((u: string) => process.stderr.write(`mcp-warden: ${o.server} needs you to sign in. Open this URL to sign in:\n${u}\n`)))(authUrl.href);
      if (o.openBrowser ?? process.env['MCP_WARDEN_NO_BROWSER'] === undefined) openInBrowser(authUrl.href);
      const current = await callback.next(o.loginTimeoutMs ?? 300_000, state);
      const tokens = await oidc.authorizationCodeGrant(config, current, { pkceCodeVerifier: verifier, expectedState: state }, { resource: o.serverUrl });
      this.record = {
        issuer: meta.issuer,
        clientId: clientId!,
        clientSecret,
        redirectUri,
        accessToken: tokens.access_token,
        refreshToken: tokens.refresh_token,
        expiresAt: typeof tokens.expires_in === 'number' ? Date.now() + tokens.expires_in * 1000 : undefined,
        obtainedAt: Date.now(),
        scope: tokens.scope,
      };
      this.save();
      this.stats.logins++;
      o.log.info({ server: o.server }, 'signed in to the upstream server');
      return true;
    } finally {
      callback.close();
    }
  }
}

/**
 * A one-shot loopback listener for the authorization response. Only a response that carries this sign-in's `state`
 * counts: any web page the person has open, or another local program, can send a request to a loopback port, and
 * one with a made-up `error` or `code` must not end the sign-in the person is in the middle of.
 */
export async function listenCallback(port: number): Promise<{ port: number; next(timeoutMs: number, state: string): Promise<URL>; close(): void }> {
  let resolve!: (u: URL) => void;
  let reject!: (e: Error) => void;
  let expected: string | undefined;
  const got = new Promise<URL>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const server = http.createServer((req, res) => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    } catch {
      // A request target no URL parser takes (`//[`): thrown here, it ended the process in the middle of a sign-in.
      res.writeHead(400).end();
      return;
    }
    if (url.pathname !== '/callback') {
      res.writeHead(404).end();
      return;
    }
    if (expected === undefined || url.searchParams.get('state') !== expected) {
      res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' }).end('This is not the sign-in mcp-warden is waiting for.\n');
      return;
    }
    const failed = url.searchParams.get('error');
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': "default-src 'none'", 'x-frame-options': 'DENY' });
    res.end(failed ? '<!doctype html><title>mcp-warden</title><p>Sign-in failed. You can close this window.</p>' : '<!doctype html><title>mcp-warden</title><p>Signed in. You can close this window.</p>');
    if (failed) reject(new Error(`the authorization server refused: ${failed.slice(0, 100)}`));
    else resolve(url);
  });
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(port, '127.0.0.1', () => res());
  });
  return {
    port: (server.address() as AddressInfo).port,
    next: (timeoutMs, state) => {
      expected = state;
      const t = setTimeout(() => reject(new Error('sign-in timed out')), timeoutMs);
      return got.finally(() => clearTimeout(t));
    },
    close: () => {
      server.close();
      server.closeAllConnections();
    },
  };
}
