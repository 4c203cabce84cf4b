/**
 * People logging in, with a real browser (Debian's Chromium through playwright-core) against oidc-provider:
 *  - an SDK 1.x client with an OAuth client provider goes from discovery (401 → RFC 9728 → AS metadata) through
 *    dynamic registration and the authorization-code flow with PKCE to a tool call through `serve`;
 *  - `wrap --url` against that same protected gateway signs in (the browser step scripted), keeps its tokens
 *    encrypted on disk, refreshes an expired access token, and survives a restart without a new login.
 */
import { createDecipheriv } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError, type OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import * as jose from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, freePort, isolatedEnv, NODE, ROOT, startServe, type Running } from '../helpers/cli.js';
import { startAs, type TestAs } from '../helpers/oidc.js';
import { RawStdio, text } from '../helpers/raw.js';

const DUAL = path.join(ROOT, 'test/fixtures/dual-era-server.mjs');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** The person's part: oidc-provider's development login and consent pages. Resolves with the final URL. */
async function signIn(browser: Browser, url: string, user: string): Promise<string> {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  try {
    let finalUrl = '';
    page.on('framenavigated', (f) => {
      if (f === page.mainFrame()) finalUrl = f.url();
    });
    await page.goto(url);
    await page.fill('input[name="login"]', user);
    await page.fill('input[name="password"]', 'any-password');
    await Promise.all([page.waitForLoadState('load'), page.click('button[type="submit"]')]);
    // Consent (first time for this client).
    for (let i = 0; i < 3 && !finalUrl.includes('/callback'); i++) {
      const consent = await page.$('button[type="submit"]');
      if (!consent) break;
      await Promise.all([page.waitForURL(/\/callback|\/interaction\//, { timeout: 10_000 }), consent.click()]);
      await page.waitForLoadState('load');
    }
    await page.waitForURL(/\/callback/, { timeout: 10_000 });
    return page.url();
  } finally {
    await ctx.close();
  }
}

describe('OAuth logins with a browser (oidc-provider, Chromium)', () => {
  let as: TestAs;
  let gw: Running;
  let browser: Browser;

  beforeAll(async () => {
    as = await startAs({ accessTokenTtl: 4 });
    const port = await freePort();
    gw = await startServe(
      `
servers:
  files: { command: ${JSON.stringify(NODE)}, args: [${JSON.stringify(DUAL)}, stdio] }
listen: { port: ${port}, public_url: "http://127.0.0.1:${port}" }
auth: { issuer: ${as.issuer}, scopes_supported: [files:read] }
audit: { enabled: false }
pins: false
`,
      { args: ['--port', String(port)] },
    );
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await gw?.stop();
    await as?.close();
  });

  it('an SDK client with an OAuth provider: discovery, registration, authorization, then a tool call through serve', async () => {
    // The client's redirect target: a loopback page that only records what it was given.
    let redirected: URL | undefined;
    const cb = http.createServer((req, res) => {
      // Only the callback: the browser also asks for /favicon.ico after it.
      const u = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (u.pathname === '/callback') redirected = u;
      res.end('ok');
    });
    await new Promise<void>((r) => cb.listen(0, '127.0.0.1', () => r()));
    const redirectUrl = `http://127.0.0.1:${(cb.address() as AddressInfo).port}/callback`;
    let info: OAuthClientInformationMixed | undefined;
    let tokens: OAuthTokens | undefined;
    let verifier = '';
    let authUrl: URL | undefined;
    const provider: OAuthClientProvider = {
      get redirectUrl() {
        return redirectUrl;
      },
      get clientMetadata(): OAuthClientMetadata {
        return { client_name: 'sdk-test', redirect_uris: [redirectUrl], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' };
      },
      clientInformation: () => info,
      saveClientInformation: (i) => void (info = i),
      tokens: () => tokens,
      saveTokens: (t) => void (tokens = t),
      redirectToAuthorization: (u) => void (authUrl = u),
      saveCodeVerifier: (v) => void (verifier = v),
      codeVerifier: () => verifier,
    };
    const url = new URL(`${gw.url}/mcp`);
    const first = new StreamableHTTPClientTransport(url, { authProvider: provider });
    const client = new Client({ name: 'sdk-oauth', version: '1' });
    await expect(client.connect(first)).rejects.toBeInstanceOf(UnauthorizedError);
    expect(info?.client_id, 'registered dynamically').toBeTruthy();
    expect(authUrl).toBeDefined();
    expect(authUrl!.origin).toBe(as.issuer);
    expect(authUrl!.searchParams.get('resource')).toBe(`${gw.url}/mcp`);
    expect(authUrl!.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authUrl!.searchParams.get('scope')).toBe('files:read');
    await signIn(browser, authUrl!.href, 'alice');
    expect(redirected?.searchParams.get('code'), String(redirected)).toBeTruthy();
    await first.finishAuth(redirected!.searchParams.get('code')!);
    expect(tokens?.access_token).toBeTruthy();
    const claims = jose.decodeJwt(tokens!.access_token);
    expect(claims).toMatchObject({ sub: 'alice', aud: `${gw.url}/mcp`, iss: as.issuer });

    const second = new StreamableHTTPClientTransport(url, { authProvider: provider });
    const c2 = new Client({ name: 'sdk-oauth', version: '1' });
    await c2.connect(second);
    const r = await c2.callTool({ name: 'test_simple_text', arguments: {} });
    expect(JSON.stringify(r)).toContain('simple text response');
    await c2.close();
    cb.close();
  }, 60_000);

  it('wrap --url: signs in through the browser, stores tokens encrypted, refreshes, survives a restart', async () => {
    const env = isolatedEnv({ MCP_WARDEN_NO_BROWSER: '1', MCP_WARDEN_NO_KEYCHAIN: '1', MCP_WARDEN_LOG_LEVEL: 'info' });
    const target = `${gw.url}/files/mcp`;
    const wrap = () => new RawStdio(NODE, [CLI, 'wrap', '--url', target, '--policy', path.join(ROOT, 'test/fixtures/policies/allow-all.yaml')], env);

    const raw = wrap();
    const init = raw.initialize();
    // The person: the proxy prints the authorization URL on stderr; the browser signs in.
    const t0 = Date.now();
    let m: RegExpMatchArray | null = null;
    while (!(m = raw.stderr.match(/Open this URL to sign in:\n(http\S+)/)) && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 100));
    expect(m, raw.stderr).toBeTruthy();
    const authUrl = new URL(m![1]!);
    expect(authUrl.searchParams.get('resource')).toBe(target);
    expect(authUrl.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authUrl.searchParams.get('state')!.length).toBeGreaterThanOrEqual(32);
    // Any web page the person has open (or another local program) can reach the loopback callback first: a made-up
    // error or code without this sign-in's state is turned away and the sign-in goes on.
    const redirect = authUrl.searchParams.get('redirect_uri')!;
    expect(new URL(redirect).hostname).toBe('127.0.0.1');
    for (const forged of ['error=access_denied', 'code=forged&state=not-this-one', 'error=access_denied&state=']) {
      const r = await fetch(`${redirect}?${forged}`);
      expect(r.status, forged).toBe(400);
    }
    const landed = await signIn(browser, authUrl.href, 'bob');
    expect(new URL(landed).searchParams.get('iss')).toBe(as.issuer); // RFC 9207, checked by the proxy
    const r1 = await init;
    expect(JSON.stringify(r1)).toContain('protocolVersion');
    const call1 = await raw.call('c1', 'test_simple_text', {});
    expect(text(call1)).toContain('simple text response');

    // At rest: one encrypted file; no token in clear. Decrypting with the key proves what it holds.
    const dir = path.join(env['XDG_STATE_HOME']!, 'mcp-warden', 'tokens');
    const files = readdirSync(dir).filter((f) => f.endsWith('.enc'));
    expect(files.length).toBe(1);
    const onDisk = readFileSync(path.join(dir, files[0]!), 'utf8');
    const doc = JSON.parse(onDisk) as { iv: string; tag: string; data: string; alg: string };
    expect(doc.alg).toBe('A256GCM');
    const key = Buffer.from(readFileSync(path.join(dir, 'key'), 'utf8').trim(), 'base64');
    const d = createDecipheriv('aes-256-gcm', key, Buffer.from(doc.iv, 'base64'));
    d.setAAD(Buffer.from(files[0]!.replace(/\.enc$/, '')));
    d.setAuthTag(Buffer.from(doc.tag, 'base64'));
    const plain = JSON.parse(Buffer.concat([d.update(Buffer.from(doc.data, 'base64')), d.final()]).toString()) as { accessToken: string; refreshToken: string };
    expect(plain.accessToken.split('.').length).toBe(3);
    expect(plain.refreshToken).toBeTruthy();
    for (const secret of [plain.accessToken, plain.refreshToken, plain.accessToken.split('.')[1]!, plain.accessToken.split('.')[2]!]) expect(onDisk).not.toContain(secret);
    // The envelope holds only these fields; its clear parts name no token (the ciphertext is random base64, so a
    // pattern search over it would fail by chance — the exact secrets above are what it must not contain).
    expect(Object.keys(doc).sort()).toEqual(['alg', 'data', 'iv', 'tag', 'v']);
    expect(JSON.stringify({ ...doc, data: undefined, iv: undefined, tag: undefined })).not.toMatch(/eyJ|access_?token|refresh/i);
    expect(doc.data).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(raw.stderr).not.toContain(plain.accessToken);
    expect(raw.stderr).not.toContain(plain.refreshToken);

    // The access token lives 4 s: after it expires, the next call refreshes it (no new login).
    const refreshesBefore = as.grants['refresh_token'] ?? 0;
    await new Promise((r) => setTimeout(r, 4500));
    const call2 = await raw.call('c2', 'test_simple_text', {});
    expect(text(call2)).toContain('simple text response');
    expect((as.grants['refresh_token'] ?? 0) - refreshesBefore).toBeGreaterThanOrEqual(1);
    expect(raw.stderr.match(/Open this URL to sign in/g)?.length).toBe(1);
    await raw.close();

    // A restart: the stored tokens are used (refreshed if needed); nobody is asked to sign in.
    await new Promise((r) => setTimeout(r, 4500));
    const again = wrap();
    await again.initialize();
    expect(text(await again.call('c3', 'test_simple_text', {}))).toContain('simple text response');
    expect(again.stderr).not.toContain('Open this URL to sign in');
    await again.close();
  }, 90_000);
});
