/**
 * The pieces of OAuth that need no network: the egress guard, the encrypted token store, configuration errors,
 * and how a principal is read from claims (scope strings, Entra ID `scp` arrays, roles).
 */
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync, readdirSync, statSync, utimesSync } from 'node:fs';
import path from 'node:path';
import * as jose from 'jose';
import { describe, expect, it, vi } from 'vitest';
import { checkEgress, guardedFetch, isPrivateAddress, isLoopbackAddress, MAX_AUTH_RESPONSE_BYTES } from '../../src/auth/egress.js';
import http from 'node:http';
import net from 'node:net';
import { TokenStore } from '../../src/auth/token-store.js';
import { ResourceServer, authSettings, readJwksFile, setCallerToken } from '../../src/auth/resource-server.js';
import type { Principal } from '../../src/pipeline/types.js';
import { upstreamCredentials } from '../../src/auth/upstream.js';
import { buildConfig, loadConfigFile } from '../../src/config/config.js';
import { createLogger, type Logger } from '../../src/log/logger.js';
import { CLI, NODE, tmpDir, writeTemp } from '../helpers/cli.js';
import { spawnSync } from 'node:child_process';

describe('egress guard for fetches the proxy makes as an OAuth client', () => {
  const strict = { allowLoopback: false, allowPrivate: false };
  it.each([
    ['http://example.com/.well-known/openid-configuration', /plain HTTP/],
    ['file:///etc/passwd', /file: URLs/],
    ['https://user:pw@example.com/', /credentials/],
    ['https://10.0.0.5/token', /private address/],
    ['https://192.168.1.1/token', /private address/],
    ['https://172.20.0.1/token', /private address/],
    ['https://169.254.169.254/latest/meta-data', /private address/],
    ['https://[fd00::1]/token', /private address/],
    ['https://[fe80::1]/token', /private address/],
    ['https://[::ffff:10.0.0.1]/token', /private address/],
    ['https://127.0.0.1/token', /loopback/],
    ['http://localhost:8080/token', /loopback/],
  ])('refuses %s', async (url, why) => {
    await expect(checkEgress(url, strict)).rejects.toThrow(why);
  });

  it('allows loopback over plain HTTP when the configuration named a loopback server, and private ranges when told', async () => {
    await expect(checkEgress('http://127.0.0.1:9/x', { allowLoopback: true, allowPrivate: false })).resolves.toBeInstanceOf(URL);
    await expect(checkEgress('https://10.1.2.3/x', { allowLoopback: false, allowPrivate: true })).resolves.toBeInstanceOf(URL);
    await expect(checkEgress('http://10.1.2.3/x', { allowLoopback: false, allowPrivate: true })).rejects.toThrow(/plain HTTP/);
    await expect(checkEgress('https://93.184.215.14/x', strict)).resolves.toBeInstanceOf(URL);
  });

  it('classifies addresses', () => {
    expect(isLoopbackAddress('127.1.2.3')).toBe(true);
    expect(isLoopbackAddress('::1')).toBe(true);
    expect(isPrivateAddress('100.64.0.1')).toBe(true);
    expect(isPrivateAddress('8.8.8.8')).toBe(false);
    expect(isPrivateAddress('2606:4700::1111')).toBe(false);
  });
});

describe('a body an OAuth endpoint streams without end is not read past 1 MiB', () => {
  it('with and without Content-Length; a small answer passes intact', async () => {
    const big = Buffer.alloc(4 * MAX_AUTH_RESPONSE_BYTES, 0x20);
    const server = http.createServer((req, res) => {
      if (req.url === '/small') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"issuer":"x"}');
      if (req.url === '/declared') return void res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(big.length) }).end(big);
      // Chunked, no length: a stream that would go on until the timeout.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"keys":[');
      const pump = () => {
        while (!res.destroyed && res.write(big.subarray(0, 256 * 1024)));
      };
      res.on('drain', pump);
      pump();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const f = guardedFetch({ allowLoopback: true, allowPrivate: false }, 5_000);
    try {
      expect(await (await f(`${base}/small`)).json()).toEqual({ issuer: 'x' });
      await expect(f(`${base}/declared`)).rejects.toThrow(`${base} answered with more than ${MAX_AUTH_RESPONSE_BYTES} bytes; not read`);
      const streamed = await f(`${base}/endless`);
      await expect(streamed.text()).rejects.toThrow(`${base} answered with more than ${MAX_AUTH_RESPONSE_BYTES} bytes; not read`);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});

describe('encrypted token store', () => {
  it('round-trips, keeps files 0600, and refuses a tampered or foreign file', () => {
    const dir = tmpDir('mcpw-tokens-');
    const store = new TokenStore(dir, false);
    store.write('login-a', { accessToken: 'AT-very-secret-value', refreshToken: 'RT-other-secret' });
    expect(store.keySource).toBe('file');
    const file = path.join(dir, 'login-a.enc');
    const raw = readFileSync(file, 'utf8');
    expect(raw).not.toContain('AT-very-secret-value');
    expect(raw).not.toContain('RT-other-secret');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(dir, 'key')).mode & 0o777).toBe(0o600);
    expect(new TokenStore(dir, false).read('login-a')).toEqual({ accessToken: 'AT-very-secret-value', refreshToken: 'RT-other-secret' });
    // A flipped bit in the ciphertext fails authentication.
    const doc = JSON.parse(raw) as { data: string };
    const bytes = Buffer.from(doc.data, 'base64');
    bytes[0] = bytes[0]! ^ 1;
    writeFileSync(file, JSON.stringify({ ...doc, data: bytes.toString('base64') }));
    expect(new TokenStore(dir, false).read('login-a')).toBeUndefined();
    // A file copied under another server's name does not decrypt (the name is authenticated data).
    store.write('login-b', { accessToken: 'B' });
    writeFileSync(path.join(dir, 'login-c.enc'), readFileSync(path.join(dir, 'login-b.enc')));
    expect(store.read('login-c')).toBeUndefined();
    // Another key cannot read it.
    const other = tmpDir('mcpw-tokens-');
    writeFileSync(path.join(other, 'login-b.enc'), readFileSync(path.join(dir, 'login-b.enc')));
    expect(new TokenStore(other, false).read('login-b')).toBeUndefined();
    expect(readdirSync(dir).filter((f) => f.includes('.enc.')).length).toBe(0); // no temp files left
  });

  it('hands its key to the OS keychain on standard input, never on a command line (macOS security, Linux secret-tool)', () => {
    // Stand-ins for the two keychain tools (neither keychain is on this machine): each keeps one secret in a file and
    // logs every argument vector it is started with, which is what any local user's `ps` would show.
    const bin = tmpDir('mcpw-keychain-');
    const vault = path.join(bin, 'vault');
    const log = `${vault}.log`;
    writeFileSync(
      path.join(bin, 'security'),
      `#!/bin/sh
printf 'argv: %s\n' "$*" >> "$FAKE_VAULT.log"
store() { while [ $# -gt 0 ]; do if [ "$1" = -w ]; then printf '%s\n' "$2" > "$FAKE_VAULT"; fi; shift; done; }
case "$1" in
  -i) while IFS= read -r line; do set -f; set -- $line; set +f; if [ "$1" = add-generic-password ]; then store "$@"; fi; done ;;
  add-generic-password) store "$@" ;;
  find-generic-password) [ -f "$FAKE_VAULT" ] || exit 44; cat "$FAKE_VAULT" ;;
  *) exit 2 ;;
esac
`,
      { mode: 0o755 },
    );
    writeFileSync(
      path.join(bin, 'secret-tool'),
      `#!/bin/sh
printf 'argv: %s\n' "$*" >> "$FAKE_VAULT.log"
case "$1" in
  store) cat > "$FAKE_VAULT" ;;
  lookup) [ -f "$FAKE_VAULT" ] || exit 1; cat "$FAKE_VAULT" ;;
  *) exit 2 ;;
esac
`,
      { mode: 0o755 },
    );
    const saved = { PATH: process.env['PATH'], DBUS_SESSION_BUS_ADDRESS: process.env['DBUS_SESSION_BUS_ADDRESS'], FAKE_VAULT: process.env['FAKE_VAULT'] };
    const platform = process.platform;
    try {
      process.env['PATH'] = `${bin}:${saved.PATH}`;
      process.env['FAKE_VAULT'] = vault;
      process.env['DBUS_SESSION_BUS_ADDRESS'] = 'unix:path=/nonexistent-test-bus';
      for (const os of ['darwin', 'linux']) {
        Object.defineProperty(process, 'platform', { value: os });
        rmSync(vault, { force: true });
        writeFileSync(log, '');
        const dir = tmpDir('mcpw-tokens-');
        const store = new TokenStore(dir, true);
        store.write('login', { accessToken: 'AT-in-the-keychain' });
        expect(store.keySource, os).toBe('keychain');
        expect(existsSync(path.join(dir, 'key')), os).toBe(false);
        const key = readFileSync(vault, 'utf8').trim();
        expect(Buffer.from(key, 'base64'), os).toHaveLength(32);
        const started = readFileSync(log, 'utf8').split('\n').filter((l) => l.startsWith('argv: '));
        // Stored once, and read back (the check that the keychain kept it) at least once.
        expect(started.length, os).toBeGreaterThanOrEqual(2);
        for (const argv of started) expect(argv, os).not.toContain(key);
        const again = new TokenStore(dir, true);
        expect(again.read('login'), os).toEqual({ accessToken: 'AT-in-the-keychain' });
        expect(again.keySource, os).toBe('keychain');
      }
    } finally {
      Object.defineProperty(process, 'platform', { value: platform });
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});

describe('auth configuration', () => {
  const load = (yaml: string) => loadConfigFile(writeTemp('c.yaml', yaml, tmpDir('mcpw-authcfg-')), {});
  it.each([
    ['auth: { clock_tolerance_s: 5 }\nservers: { a: { command: x } }', /needs "issuer", "jwks_uri", "jwks_file" or "introspection"/],
    ['auth: { issuer: "https://idp.example", algorithms: [HS256] }', /algorithms/],
    ['auth: { issuer: "https://idp.example", algorithms: [none] }', /algorithms/],
    ['auth: { issuer: "https://idp.example", introspection: { url: "https://idp.example/i" } }', /client_id/],
    ['servers: { a: { url: "https://x.example/mcp", auth: { type: bearer } } }', /bearer needs exactly one of "token" or "token_file"/],
    ['servers: { a: { url: "https://x.example/mcp", auth: { type: client_credentials, client_id: c } } }', /needs "issuer" or "token_endpoint"/],
    ['servers: { a: { url: "https://x.example/mcp", auth: { type: passthrough } } }', /auth/],
    ['servers: { a: { command: x, auth: { type: bearer, token: t } } }', /apply only to a "url" server/],
  ])('rejects %s', (yaml, why) => {
    expect(() => load(yaml)).toThrow(why);
  });
});

describe('auth.jwks_file', () => {
  it('is checked when serve starts: unreadable, not JSON, not a JWKS, a broken key or a private key stop it by name', async () => {
    const { publicKey, privateKey } = await jose.generateKeyPair('ES256', { extractable: true });
    const pub = { ...(await jose.exportJWK(publicKey)), kid: 'k' };
    const dir = tmpDir('mcpw-jwks-');
    const good = writeTemp('good.json', JSON.stringify({ keys: [pub] }), dir);
    expect(readJwksFile(good).keys).toEqual([pub]);
    // Whoever can write it can add a key of their own and sign any token.
    chmodSync(good, 0o666);
    expect(() => readJwksFile(good)).toThrow(`${good}: refused as the keys tokens are checked with (auth.jwks_file), which decides what mcp-warden lets through: every user of this machine can write it (mode 0666); chmod o-w it`);
    chmodSync(good, 0o644);
    expect(readJwksFile(good).keys).toEqual([pub]);
    for (const [text, why] of [
      ['{"keys":', /not JSON \(auth\.jwks_file\)/],
      ['{"keys":5}', /not a JWKS \(auth\.jwks_file\): it needs \{"keys": \[\.\.\.\]\}/],
      ['{"keys":[]}', /not a JWKS/],
      ['{"keys":[{"kty":"RSA","e":"AQAB"}]}', /keys\[0\] is not a usable public key/],
      [JSON.stringify({ keys: [pub, { ...(await jose.exportJWK(privateKey)), kid: 'p' }] }), /keys\[1\] holds private or secret key material/],
      ['{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}', /keys\[0\] holds private or secret key material/],
    ] as const) {
      const f = writeTemp('jwks.json', text, dir);
      expect(() => readJwksFile(f)).toThrow(why);
    }
    expect(() => readJwksFile(path.join(dir, 'missing.json'))).toThrow(/missing\.json: cannot read the signing keys \(auth\.jwks_file\): no such file or directory \(ENOENT\)/);
    // serve refuses to start on one (it was read on the first request, and every request then failed).
    const bad = writeTemp('bad.json', '{"keys":[]}', dir);
    const cfg = writeTemp('serve.yaml', `servers:\n  a: { command: x }\nlisten: { port: 1 }\nauth: { issuer: https://idp.example, jwks_file: ${JSON.stringify(bad)} }\naudit: { enabled: false }\n`, dir);
    const r = spawnSync(NODE, [CLI, 'serve', '--config', cfg], { encoding: 'utf8', timeout: 30_000, env: { PATH: process.env['PATH'] ?? '', HOME: dir, XDG_STATE_HOME: dir } });
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toBe(`mcp-warden: ${bad}: not a JWKS (auth.jwks_file): it needs {"keys": [...]} with at least one key\n`);
  });
});

describe('principal from claims', () => {
  it('reads scope strings, scp arrays and roles; refuses a token without a subject', async () => {
    const { privateKey, publicKey } = await jose.generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await jose.exportJWK(publicKey)), kid: 'k' };
    const dir = tmpDir('mcpw-jwks-');
    const jwksFile = path.join(dir, 'jwks.json');
    writeFileSync(jwksFile, JSON.stringify({ keys: [jwk] }));
    const cfg = buildConfig({ servers: { files: { command: 'x' } }, listen: { public_url: 'https://gw.example' }, auth: { issuer: 'https://idp.example', jwks_file: jwksFile, algorithms: ['ES256'] } }, undefined);
    const rs = new ResourceServer(authSettings(cfg)!, cfg.servers, { log: createLogger({ level: 'silent' }), publicUrl: 'https://gw.example' });
    const sign = (claims: jose.JWTPayload) => new jose.SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'k' }).setIssuer('https://idp.example').setAudience('https://gw.example/files/mcp').setIssuedAt().setExpirationTime('5m').sign(privateKey);
    const p1 = await rs.validate(await sign({ sub: 'u1', scope: 'a b', roles: ['admin', 3] }), 'files');
    expect(p1).toMatchObject({ sub: 'u1', kind: 'oauth', issuer: 'https://idp.example', scopes: ['a', 'b'] });
    expect(p1.claims['roles']).toEqual(['admin']);
    expect(p1.tokenRef).toMatch(/^sha256:[0-9a-f]{16}$/);
    const p2 = await rs.validate(await sign({ sub: 'u2', scp: ['Files.Read', 'Files.Write'], azp: 'app-1', jti: 'j-1' }), 'files');
    expect(p2).toMatchObject({ scopes: ['Files.Read', 'Files.Write'], clientId: 'app-1', tokenRef: 'jti:j-1' });
    const p3 = await rs.validate(await sign({ client_id: 'robot' }), 'files');
    expect(p3.sub).toBe('client:robot');
    await expect(rs.validate(await sign({ scope: 'a' }), 'files')).rejects.toThrow(/no subject/);
    // The single-server alias /mcp is an accepted audience too; another path is not.
    const alias = await new jose.SignJWT({ sub: 'u3' }).setProtectedHeader({ alg: 'ES256', kid: 'k' }).setIssuer('https://idp.example').setAudience('https://gw.example/mcp/').setIssuedAt().setExpirationTime('5m').sign(privateKey);
    expect((await rs.validate(alias, 'files')).sub).toBe('u3');
    const other = await new jose.SignJWT({ sub: 'u4' }).setProtectedHeader({ alg: 'ES256', kid: 'k' }).setIssuer('https://idp.example').setAudience('https://gw.example/').setIssuedAt().setExpirationTime('5m').sign(privateKey);
    await expect(rs.validate(other, 'files')).rejects.toThrow(/audience/);
  });
});

describe('the sign-in callback listener', () => {
  it('answers a request target no URL parser takes with 400 and keeps waiting for the real callback', async () => {
    const { listenCallback } = await import('../../src/auth/login.js');
    const cb = await listenCallback(0);
    try {
      const waiting = cb.next(5_000, 'state-1');
      const raw = (target: string) =>
        new Promise<string>((resolve, reject) => {
          const s = net.connect(cb.port, '127.0.0.1', () => s.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`));
          let d = '';
          s.on('data', (c: Buffer) => (d += c.toString()));
          s.on('close', () => resolve(d.split('\r\n')[0]!));
          s.on('error', reject);
        });
      // Thrown by new URL in the handler, this ended the process in the middle of a sign-in.
      expect(await raw('//[')).toBe('HTTP/1.1 400 Bad Request');
      expect(await raw('/callback?state=state-1&code=abc')).toBe('HTTP/1.1 200 OK');
      expect((await waiting).searchParams.get('code')).toBe('abc');
    } finally {
      cb.close();
    }
  });
});

/**
 * An HTTP endpoint on loopback (an authorization server's token or introspection endpoint, a key server) that answers
 * each request once its body has arrived; its address is `origin`.
 */
async function loopbackEndpoint(answer: (body: string, res: http.ServerResponse) => void): Promise<{ origin: string; close(): void }> {
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => answer(body, res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { origin: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, close: () => server.close() };
}

describe('the introspection cache', () => {
  it('expires on a clock that only moves forward: a wall clock set back does not keep a token cached past cache_s', async () => {
    let calls = 0;
    const realNow = Date.now.bind(Date);
    const idp = await loopbackEndpoint((_body, res) => {
      calls++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ active: true, sub: 'alice', aud: 'https://gw.example/files/mcp', exp: Math.floor(realNow() / 1000) + 7200, client_id: 'app' }));
    });
    const url = `${idp.origin}/introspect`;
    const cfg = buildConfig({ servers: { files: { command: 'x' } }, listen: { public_url: 'https://gw.example' }, auth: { introspection: { url, client_id: 'rs', client_secret: 's', cache_s: 0.2 } } }, undefined);
    const rs = new ResourceServer(authSettings(cfg)!, cfg.servers, { log: createLogger({ level: 'silent' }), publicUrl: 'https://gw.example' });
    try {
      expect((await rs.validate('opaque-token-1', 'files')).sub).toBe('alice');
      expect((await rs.validate('opaque-token-1', 'files')).sub).toBe('alice');
      expect(calls).toBe(1);
      // The wall clock is set back an hour; 0.3 s pass. The entry (0.2 s) must be checked again: before, its expiry
      // was a wall-clock time an hour ahead now, and a revoked token stayed accepted for that hour.
      const back = vi.spyOn(Date, 'now').mockImplementation(() => realNow() - 3_600_000);
      try {
        await new Promise((r) => setTimeout(r, 300));
        expect((await rs.validate('opaque-token-1', 'files')).sub).toBe('alice');
        expect(calls).toBe(2);
      } finally {
        back.mockRestore();
      }
    } finally {
      idp.close();
    }
  });
});

describe('why an OAuth fetch failed reaches the caller and the log', () => {
  let n = 0;
  const credentialsError = async (tokenEndpoint: string): Promise<string> => {
    // A server name of its own each time: the token client is kept per server name for the process.
    const cfg = buildConfig({ servers: { [`remote${++n}`]: { url: 'https://mcp.example/mcp', auth: { type: 'client_credentials', token_endpoint: tokenEndpoint, client_id: 'c', client_secret: 's' } } } }, undefined);
    const provider = upstreamCredentials(cfg.servers[0]!, { mode: 'serve', log: createLogger({ level: 'silent' }), baseDir: '.' })!;
    try {
      await provider.headers(undefined);
    } catch (e) {
      return (e as Error).message;
    }
    throw new Error('the token request did not fail');
  };

  it("the egress guard's refusal and fetch's cause, not openid-client's 'something went wrong'", async () => {
    expect(await credentialsError('https://10.1.2.3/token')).toBe('10.1.2.3 resolves to a private address (10.1.2.3); set allow_private_networks to allow it');
    expect(await credentialsError('https://mcp-warden-test.invalid/token')).toBe('mcp-warden-test.invalid does not resolve');
    const port = await new Promise<number>((r) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => r(p));
      });
    });
    expect(await credentialsError(`http://127.0.0.1:${port}/token`)).toBe(`fetch failed: ECONNREFUSED (http://127.0.0.1:${port})`);
  });

  it('signing keys the guard will not read are the key source failing (503), not a bad token (401)', async () => {
    // A key endpoint that answers with more than the guard reads (1 MiB): the guard's refusal is not the token's fault.
    const keys = await loopbackEndpoint((_body, res) => res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(2 * 2 ** 20) }).end('x'.repeat(2 * 2 ** 20)));
    try {
      const { privateKey } = await jose.generateKeyPair('ES256');
      const cfg = buildConfig({ servers: { files: { command: 'x' } }, listen: { public_url: 'https://gw.example' }, auth: { issuer: 'https://idp.example', jwks_uri: `${keys.origin}/jwks`, algorithms: ['ES256'] } }, undefined);
      const rs = new ResourceServer(authSettings(cfg)!, cfg.servers, { log: createLogger({ level: 'silent' }), publicUrl: 'https://gw.example' });
      const token = await new jose.SignJWT({ sub: 'u' }).setProtectedHeader({ alg: 'ES256', kid: 'k' }).setIssuer('https://idp.example').setAudience('https://gw.example/files/mcp').setIssuedAt().setExpirationTime('5m').sign(privateKey);
      await expect(rs.validate(token, 'files')).rejects.toMatchObject({ status: 503, error: 'temporarily_unavailable' });
    } finally {
      keys.close();
    }
  });
});

describe('upstream tokens the proxy obtains', () => {
  it('are cached on a clock that only moves forward: time passing with the wall clock set back gets a new token', async () => {
    let grants = 0;
    const as = await loopbackEndpoint((_body, res) => {
      grants++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: `cc-${grants}`, token_type: 'Bearer', expires_in: 60 }));
    });
    const realPerf = performance.now.bind(performance);
    const realNow = Date.now.bind(Date);
    let ahead = 0;
    const perf = vi.spyOn(performance, 'now').mockImplementation(() => realPerf() + ahead);
    const wall = vi.spyOn(Date, 'now').mockImplementation(() => realNow());
    try {
      const cfg = buildConfig({ servers: { ccmono: { url: 'https://mcp.example/mcp', auth: { type: 'client_credentials', token_endpoint: `${as.origin}/token`, client_id: 'c', client_secret: 's' } } } }, undefined);
      const provider = upstreamCredentials(cfg.servers[0]!, { mode: 'serve', log: createLogger({ level: 'silent' }), baseDir: '.' })!;
      expect(await provider.headers(undefined)).toEqual({ authorization: 'Bearer cc-1' });
      expect(await provider.headers(undefined)).toEqual({ authorization: 'Bearer cc-1' });
      // 40 s pass (the token is used for 60 - 30 = 30 s) while the wall clock is set back an hour: a new token.
      // Before, the cache compared wall-clock times and kept using cc-1 for another hour.
      ahead = 40_000;
      wall.mockImplementation(() => realNow() - 3_600_000 + 40_000);
      expect(await provider.headers(undefined)).toEqual({ authorization: 'Bearer cc-2' });
      expect(grants).toBe(2);
    } finally {
      perf.mockRestore();
      wall.mockRestore();
      as.close();
    }
  });
});

describe('token exchange when the upstream refuses the exchanged token', () => {
  it("exchanges again for that caller (not until the cached token's expiry), and only for that caller", async () => {
    let exchanges = 0;
    const as = await loopbackEndpoint((body, res) => {
      exchanges++;
      const subject = new URLSearchParams(body).get('subject_token');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: `up-${subject}-${exchanges}`, token_type: 'Bearer', expires_in: 3600, issued_token_type: 'urn:ietf:params:oauth:token-type:access_token' }));
    });
    try {
      const cfg = buildConfig({ servers: { exch: { url: 'https://mcp.example/mcp', auth: { type: 'token_exchange', token_endpoint: `${as.origin}/token`, client_id: 'c', client_secret: 's' } } } }, undefined);
      const provider = upstreamCredentials(cfg.servers[0]!, { mode: 'serve', log: createLogger({ level: 'silent' }), baseDir: '.' })!;
      const alice: Principal = { sub: 'alice', kind: 'oauth', scopes: [], claims: {}, expiresAt: Math.floor(Date.now() / 1000) + 3600 };
      const bob: Principal = { sub: 'bob', kind: 'oauth', scopes: [], claims: {}, expiresAt: Math.floor(Date.now() / 1000) + 3600 };
      setCallerToken(alice, 'alice-token');
      setCallerToken(bob, 'bob-token');
      expect(await provider.headers(alice)).toEqual({ authorization: 'Bearer up-alice-token-1' });
      expect(await provider.headers(bob)).toEqual({ authorization: 'Bearer up-bob-token-2' });
      expect(await provider.headers(alice)).toEqual({ authorization: 'Bearer up-alice-token-1' });
      // The upstream answers 401 to alice's request: send it once more, with a token exchanged anew.
      expect(await provider.unauthorized!(undefined, alice)).toBe(true);
      expect(await provider.headers(alice)).toEqual({ authorization: 'Bearer up-alice-token-3' });
      expect(await provider.headers(bob)).toEqual({ authorization: 'Bearer up-bob-token-2' });
      expect(exchanges).toBe(3);
      // A caller with no token of its own to exchange: nothing to retry with.
      expect(await provider.unauthorized!(undefined, { sub: 'x', kind: 'local', scopes: [], claims: {} })).toBe(false);
    } finally {
      as.close();
    }
  });
});

describe('secret files rotated while the proxy runs', () => {
  it('a bearer token_file is read again when the upstream answers 401, and the request sent once more if it changed', async () => {
    const dir = tmpDir('mcpw-rotate-');
    const file = writeTemp('token', 'old-token\n', dir);
    const cfg = buildConfig({ servers: { rotb: { url: 'https://mcp.example/mcp', auth: { type: 'bearer', token_file: file } } } }, undefined);
    const provider = upstreamCredentials(cfg.servers[0]!, { mode: 'wrap', log: createLogger({ level: 'silent' }), baseDir: dir })!;
    expect(await provider.headers()).toEqual({ authorization: 'Bearer old-token' });
    // Unchanged: nothing to retry with.
    expect(await provider.unauthorized!(undefined)).toBe(false);
    writeFileSync(file, 'new-token\n');
    expect(await provider.headers()).toEqual({ authorization: 'Bearer old-token' });
    expect(await provider.unauthorized!(undefined)).toBe(true);
    expect(await provider.headers()).toEqual({ authorization: 'Bearer new-token' });
  });

  it('a client_secret_file rotated since it was read: the token endpoint says invalid_client, the secret is read again', async () => {
    let accepted = 'secret-a';
    const seen: string[] = [];
    const as = await loopbackEndpoint((body, res) => {
      const secret = new URLSearchParams(body).get('client_secret') ?? '';
      seen.push(secret);
      if (secret !== accepted) return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_client"}');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: `token-for-${secret}`, token_type: 'Bearer', expires_in: 3600 }));
    });
    try {
      const dir = tmpDir('mcpw-rotate-');
      const file = writeTemp('secret', 'secret-a\n', dir);
      const cfg = buildConfig({ servers: { rotcc: { url: 'https://mcp.example/mcp', auth: { type: 'client_credentials', token_endpoint: `${as.origin}/token`, client_id: 'c', client_secret_file: file } } } }, undefined);
      const provider = upstreamCredentials(cfg.servers[0]!, { mode: 'serve', log: createLogger({ level: 'silent' }), baseDir: dir })!;
      expect(await provider.headers()).toEqual({ authorization: 'Bearer token-for-secret-a' });
      // The secret is rotated at the authorization server and in the file; the upstream refuses the old token.
      accepted = 'secret-b';
      writeFileSync(file, 'secret-b\n');
      expect(await provider.unauthorized!(undefined)).toBe(true);
      expect(await provider.headers()).toEqual({ authorization: 'Bearer token-for-secret-b' });
      expect(seen).toEqual(['secret-a', 'secret-a', 'secret-b']);
    } finally {
      as.close();
    }
  });
});

describe('auth.jwks_file replaced while serve runs', () => {
  it('its keys are read again; a file that cannot be used keeps the keys read last', async () => {
    const dir = tmpDir('mcpw-jwksfile-');
    const file = path.join(dir, 'jwks.json');
    const pair = async (kid: string) => {
      const { privateKey, publicKey } = await jose.generateKeyPair('ES256', { extractable: true });
      return { privateKey, jwk: { ...(await jose.exportJWK(publicKey)), kid } };
    };
    const a = await pair('a');
    const b = await pair('b');
    const sign = (k: { privateKey: CryptoKey | jose.KeyObject }, kid: string) => new jose.SignJWT({ sub: 'u' }).setProtectedHeader({ alg: 'ES256', kid }).setIssuer('https://idp.example').setAudience('https://gw.example/files/mcp').setIssuedAt().setExpirationTime('5m').sign(k.privateKey);
    const replace = (text: string, at: number) => {
      writeFileSync(file, text);
      utimesSync(file, at, at);
    };
    replace(JSON.stringify({ keys: [a.jwk] }), 1_000_000);
    const lines: string[] = [];
    const noop = () => undefined;
    const log = { info: noop, warn: noop, debug: noop, error: (_o: unknown, m: string) => void lines.push(m) } as unknown as Logger;
    const cfg = buildConfig({ servers: { files: { command: 'x' } }, listen: { public_url: 'https://gw.example' }, auth: { issuer: 'https://idp.example', jwks_file: file, algorithms: ['ES256'] } }, undefined);
    const rs = new ResourceServer(authSettings(cfg)!, cfg.servers, { log, publicUrl: 'https://gw.example' });
    expect((await rs.validate(await sign(a, 'a'), 'files')).sub).toBe('u');
    // The provider rotated to key b; the administrator replaced the file.
    replace(JSON.stringify({ keys: [b.jwk] }), 2_000_000);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await rs.validate(await sign(b, 'b'), 'files')).sub).toBe('u');
    await expect(rs.validate(await sign(a, 'a'), 'files')).rejects.toThrow(/unknown key/);
    // A half-written file: the keys read last (b) stay in force.
    replace('{"keys": [', 3_000_000);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await rs.validate(await sign(b, 'b'), 'files')).sub).toBe('u');
    expect(lines.join('')).toMatch(/auth.jwks_file changed but cannot be used; the keys read last stay in force/);
    // Mended with its modification time kept as it was (cp -p, rsync -t): still a change, so key a is read.
    replace(JSON.stringify({ keys: [a.jwk] }), 3_000_000);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await rs.validate(await sign(a, 'a'), 'files')).sub).toBe('u');
  });
});
