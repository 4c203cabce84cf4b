/**
 * Issue 9: children cannot reach the proxy's secrets. The same hostile server runs behind `serve` twice: without a
 * sandbox it can read the gateway's environment through /proc, the audit database, the signing key and the config
 * (the same user can read the same files — what SECURITY.md says holds without a sandbox); with `sandbox: bwrap` it
 * can read none of them, cannot write outside its `write` list, and still serves calls.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, type McpClient } from '../helpers/clients.js';
import { ALLOW_ALL, isolatedEnv, NODE, ROOT, startServe, type Running } from '../helpers/cli.js';

const SNOOP = path.join(ROOT, 'test/fixtures/snoop-server.mjs');
const SECRET = 'gateway-secret-value-7f3a';

function text(r: Record<string, unknown>): string {
  return (r['content'] as { text: string }[])[0]!.text;
}

describe('sandbox: bwrap', () => {
  let gw: Running;
  let dir: string;
  let files: { db: string; key: string; config: string; state: string; scratch: string; token: string; linked: string; clientSecret: string; log: string };
  let open: McpClient;
  let boxed: McpClient;
  let homeless: McpClient;
  let cloud: McpClient;
  let home: string;
  /** Keys and tokens of other programs in the home directory, each file with a value that must not be read. */
  const creds: Record<string, string> = {
    '.ssh/id_ed25519': 'ssh-private-key-value',
    '.aws/credentials': 'aws-secret-access-key-value',
    '.claude.json': '{"mcpServers":{"gh":{"env":{"GITHUB_TOKEN":"host-config-github-token"}}}}',
    '.config/gh/hosts.yml': 'oauth_token: gh-cli-token-value',
    '.npmrc': '//registry.npmjs.org/:_authToken=npm-token-value',
    '.copilot/mcp-config.json': '{"mcpServers":{"gh":{"env":{"GITHUB_TOKEN":"copilot-config-github-token"}}}}',
    '.codex/auth.json': '{"OPENAI_API_KEY":"codex-openai-api-key-value"}',
    '.config/github-copilot/apps.json': '{"github.com:Iv1":{"oauth_token":"copilot-oauth-token-value"}}',
    '.kiro/settings/mcp.json': '{"mcpServers":{"gh":{"env":{"GITHUB_TOKEN":"kiro-config-github-token"}}}}',
    '.config/Windsurf/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json': '{"mcpServers":{"gh":{"env":{"GITHUB_TOKEN":"cline-in-windsurf-github-token"}}}}',
  };

  beforeAll(async () => {
    // Outside /tmp: the sandbox's private /tmp would hide anything there anyway, and the point is the hiding.
    dir = mkdtempSync('/var/tmp/mcpw-sandbox-');
    const state = path.join(dir, 'state');
    const scratch = path.join(dir, 'scratch');
    mkdirSync(scratch);
    const auditDir = path.join(dir, 'audit');
    // Another server's credentials, kept where an operator keeps them (not in mcp-warden's folders): a bearer token,
    // a header value through a link (/run/secrets style), a client secret; and the proxy's own log file.
    const secrets = path.join(dir, 'secrets');
    mkdirSync(secrets);
    files = { db: path.join(auditDir, 'audit.db'), key: path.join(auditDir, 'signing.key'), config: '', state, scratch, token: path.join(secrets, 'remote.token'), linked: path.join(secrets, 'api-key.real'), clientSecret: path.join(secrets, 'client.secret'), log: path.join(dir, 'logs', 'warden.log') };
    writeFileSync(files.token, 'remote-bearer-token-value\n', { mode: 0o600 });
    writeFileSync(files.linked, 'remote-api-key-value\n', { mode: 0o600 });
    symlinkSync(files.linked, path.join(secrets, 'api-key'));
    writeFileSync(files.clientSecret, 'remote-client-secret-value\n', { mode: 0o600 });
    // The home directory the gateway and its servers run with, outside /tmp (which the sandbox replaces anyway).
    home = path.join(dir, 'home');
    for (const [f, v] of Object.entries(creds)) {
      mkdirSync(path.dirname(path.join(home, f)), { recursive: true });
      writeFileSync(path.join(home, f), v, { mode: 0o600 });
    }
    writeFileSync(path.join(home, 'notes.txt'), 'plain notes');
    mkdirSync(path.join(home, 'project'));
    writeFileSync(path.join(home, 'project', 'readme.txt'), 'project readme');
    gw = await startServe(
      `servers:
  remote: { url: "http://127.0.0.1:9/mcp", auth: { type: bearer, token_file: ${JSON.stringify(files.token)} } }
  keyed: { url: "http://127.0.0.1:9/mcp", auth: { type: header, name: x-api-key, value_file: ${JSON.stringify(path.join(secrets, 'api-key'))} } }
  machine: { url: "http://127.0.0.1:9/mcp", auth: { type: client_credentials, token_endpoint: "http://127.0.0.1:9/token", client_id: c, client_secret_file: ${JSON.stringify(files.clientSecret)} } }
  open: { command: ${JSON.stringify(NODE)}, args: [${JSON.stringify(SNOOP)}] }
  boxed:
    command: ${JSON.stringify(NODE)}
    args: [${JSON.stringify(SNOOP)}]
    sandbox: { type: bwrap, write: [${JSON.stringify(scratch)}] }
  homeless:
    command: ${JSON.stringify(NODE)}
    args: [${JSON.stringify(SNOOP)}]
    sandbox: { type: bwrap, home: hidden, read: ["~/notes.txt"] }
  cloud:
    command: ${JSON.stringify(NODE)}
    args: [${JSON.stringify(SNOOP)}]
    sandbox: { type: bwrap, read: ["~/.aws"], write: ["~"] }
policy: [${JSON.stringify(ALLOW_ALL)}]
audit: { db: ${JSON.stringify(files.db)}, signing_key: ${JSON.stringify(files.key)}, anchor: ${JSON.stringify(path.join(auditDir, 'anchor'))} }
pins: false
log: { file: ${JSON.stringify(files.log)} }
`,
      { env: isolatedEnv({ GATEWAY_SECRET: SECRET, XDG_STATE_HOME: state, MCP_WARDEN_LOG_LEVEL: 'info', HOME: home }) },
    );
    files.config = /--config (\S+)/.exec(gw.proc.spawnargs.join(' '))?.[1] ?? '';
    open = await connectClient('v1', { kind: 'http', url: `${gw.url}/open/mcp` });
    boxed = await connectClient('v1', { kind: 'http', url: `${gw.url}/boxed/mcp` });
    homeless = await connectClient('v1', { kind: 'http', url: `${gw.url}/homeless/mcp` });
    cloud = await connectClient('v1', { kind: 'http', url: `${gw.url}/cloud/mcp` });
    // Something for the audit trail and the key to exist.
    await open.callTool('ls', { path: '/' });
  });

  afterAll(async () => {
    await open?.close();
    await boxed?.close();
    await homeless?.close();
    await cloud?.close();
    await gw?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const read = async (c: McpClient, p: string) => text(await c.callTool('read', { path: p }));

  it('without a sandbox, the same user can read the gateway environment, audit database, key and config', async () => {
    expect(await read(open, `/proc/${gw.proc.pid}/environ`)).toContain(SECRET);
    expect(await read(open, files.db)).toMatch(/^SQLite format 3/);
    expect(await read(open, files.key)).not.toMatch(/^ERR/);
    expect(await read(open, files.config)).toContain('servers:');
    expect(await read(open, files.token)).toContain('remote-bearer-token-value');
    expect(await read(open, path.join(path.dirname(files.token), 'api-key'))).toContain('remote-api-key-value');
    expect(await read(open, files.clientSecret)).toContain('remote-client-secret-value');
    expect(await read(open, files.log)).toContain('"msg"');
    // Readable (what looks like a token in them is redacted on its way to the client, as from any server).
    for (const f of Object.keys(creds)) expect(await read(open, path.join(home, f))).toMatch(/^[^E\s].{10,}/s);
    expect(await read(open, path.join(home, '.ssh/id_ed25519'))).toBe(creds['.ssh/id_ed25519']);
  });

  it('with bwrap, the keys and tokens of other programs in the home directory are hidden; the rest of it is visible', async () => {
    for (const [f, v] of Object.entries(creds)) {
      const got = await read(boxed, path.join(home, f));
      expect(got, f).toMatch(/^(|ERR \w+)$/);
      expect(got).not.toContain(v);
    }
    expect(await read(boxed, path.join(home, 'notes.txt'))).toBe('plain notes');
    expect(await read(boxed, path.join(home, 'project', 'readme.txt'))).toBe('project readme');
  });

  it('home: hidden shows only what read names, read-only; read binds back a credential place, a broad write does not', async () => {
    expect(await read(homeless, path.join(home, 'notes.txt'))).toBe('plain notes');
    expect(await read(homeless, path.join(home, 'project', 'readme.txt'))).toMatch(/^ERR ENOENT$/);
    expect(text(await homeless.callTool('ls', { path: home }))).toBe('notes.txt');
    expect(text(await homeless.callTool('write', { path: path.join(home, 'notes.txt') }))).toMatch(/^ERR (EROFS|EACCES)/);
    expect(await read(homeless, path.join(home, '.ssh', 'id_ed25519'))).toMatch(/^ERR ENOENT$/);
    // read: [~/.aws] and write: [~]: the AWS credentials are there, the other keys are not, the home is writable.
    expect(await read(cloud, path.join(home, '.aws', 'credentials'))).toBe(creds['.aws/credentials']);
    expect(await read(cloud, path.join(home, '.ssh', 'id_ed25519'))).toMatch(/^(|ERR \w+)$/);
    expect(await read(cloud, path.join(home, '.claude.json'))).toMatch(/^(|ERR \w+)$/);
    expect(text(await cloud.callTool('write', { path: path.join(home, 'project', 'out.txt') }))).toBe('ok');
    expect(existsSync(path.join(home, 'project', 'out.txt'))).toBe(true);
    // A write there lands in the empty folder the sandbox put over ~/.ssh, not in the real one.
    await cloud.callTool('write', { path: path.join(home, '.ssh', 'authorized_keys') });
    expect(existsSync(path.join(home, '.ssh', 'authorized_keys'))).toBe(false);
  });

  it("with bwrap, the files the config reads other servers' credentials from are empty, through a link too, and so is the log", async () => {
    for (const f of [files.token, path.join(path.dirname(files.token), 'api-key'), files.linked, files.clientSecret, files.log]) expect(await read(boxed, f), f).toMatch(/^(|ERR \w+)$/);
  });

  it('with bwrap, none of them can be read, and the gateway is not even visible in /proc', async () => {
    expect(await read(boxed, `/proc/${gw.proc.pid}/environ`)).toMatch(/^ERR (ENOENT|EACCES)/);
    expect(await read(boxed, files.db)).toMatch(/^ERR ENOENT$/);
    expect(await read(boxed, files.key)).toMatch(/^ERR ENOENT$/);
    expect(await read(boxed, files.config)).toMatch(/^(|ERR \w+)$/);
    expect(text(await boxed.callTool('ls', { path: path.dirname(files.db) }))).toBe('');
    const procs = text(await boxed.callTool('ls', { path: '/proc' })).split('\n').filter((n) => /^\d+$/.test(n));
    expect(procs.length).toBeLessThan(5);
  });

  it('with bwrap, writes succeed only under `write`; the rest of the file system is read-only', async () => {
    expect(text(await boxed.callTool('write', { path: path.join(files.scratch, 'ok.txt') }))).toBe('ok');
    expect(existsSync(path.join(files.scratch, 'ok.txt'))).toBe(true);
    expect(text(await boxed.callTool('write', { path: path.join(dir, 'planted.txt') }))).toMatch(/^ERR (EROFS|EACCES)/);
    expect(text(await boxed.callTool('write', { path: path.join(ROOT, 'planted.txt') }))).toMatch(/^ERR (EROFS|EACCES)/);
    expect(existsSync(path.join(ROOT, 'planted.txt'))).toBe(false);
    // Its /tmp is its own.
    const mark = `/tmp/mcpw-sandbox-private-${process.pid}.txt`;
    expect(text(await boxed.callTool('write', { path: mark }))).toBe('ok');
    expect(existsSync(mark)).toBe(false);
  });

  it('a sandbox that cannot be set up refuses to start the server (fail closed)', async () => {
    const bad = await startServe(`servers:\n  s:\n    command: ${JSON.stringify(NODE)}\n    args: [${JSON.stringify(SNOOP)}]\n    sandbox: { type: bwrap, bwrap: /nonexistent/bwrap }\npolicy: [${JSON.stringify(ALLOW_ALL)}]\npins: false\naudit: { enabled: false }\n`);
    try {
      const r = await fetch(`${bad.url}/s/mcp`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } }) });
      expect(r.status).toBe(502);
      // The client is told the server could not start; why (it names the gateway's files) goes to the log.
      expect(await r.text()).toContain('Upstream server \\"s\\" could not be started');
      for (let i = 0; i < 100 && !/bubblewrap.*could not start the upstream/.test(bad.stderr()); i++) await new Promise((r) => setTimeout(r, 50));
      expect(bad.stderr()).toMatch(/bubblewrap.*could not start the upstream/);
    } finally {
      await bad.stop();
    }
  });
});


