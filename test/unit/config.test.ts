import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { childEnv, pinSettings, policyFiles } from '../../src/assemble.js';
import { auditConfig } from '../../src/audit/setup.js';
import { loadPolicyFiles } from '../../src/policy/load.js';
import { findConfig, loadConfigFile } from '../../src/config/config.js';
import { ConfigError } from '../../src/errors.js';
import { clientAddress, proxySet } from '../../src/transports/proxies.js';
import type { IncomingMessage } from 'node:http';

const dir = mkdtempSync(path.join(os.tmpdir(), 'mcpw-config-'));
function file(name: string, text: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('config loading', () => {
  it('loads a valid file with defaults', () => {
    const cfg = loadConfigFile(file('ok.yaml', 'servers:\n  files:\n    command: npx\n    args: ["-y", "x"]\nlimits:\n  request_timeout_s: 5\n'));
    expect(cfg.servers[0]).toMatchObject({ name: 'files', command: 'npx', args: ['-y', 'x'], isolation: 'per-session' });
    expect(cfg.limits).toMatchObject({ requestTimeoutMs: 5000, maxJsonDepth: 64, maxMessageBytes: 16 * 1024 * 1024 });
    expect(cfg.listen.host).toBe('127.0.0.1');
  });

  it('takes a busy-polling window in microseconds, 150 unless set, 0 to turn it off, whole and at most 10000', () => {
    expect(loadConfigFile(file('bp-default.yaml', 'servers:\n  a: { command: echo }\n')).limits.busyPollUs).toBe(150);
    expect(loadConfigFile(file('bp-off.yaml', 'servers:\n  a: { command: echo }\nlimits:\n  busy_poll_us: 0\n')).limits.busyPollUs).toBe(0);
    expect(loadConfigFile(file('bp-500.yaml', 'servers:\n  a: { command: echo }\nlimits:\n  busy_poll_us: 500\n')).limits.busyPollUs).toBe(500);
    for (const [v, why] of [['-1', 'must be >= 0'], ['10001', 'must be <= 10000'], ['1.5', 'must be integer']] as const) {
      const f = file(`bp-bad-${v}.yaml`, `servers:\n  a: { command: echo }\nlimits:\n  busy_poll_us: ${v}\n`);
      expect(errorOf(() => loadConfigFile(f)).message).toBe(`${f}:4: limits.busy_poll_us: ${why}`);
    }
  });

  it('a YAML alias bomb in a config or a policy is a file error with the line of the first alias, not a crash', () => {
    const levels = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 8; i++) levels.push(`a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]`);
    const cfg = file('bomb.yaml', `${levels.join('\n')}\nservers:\n  x: { command: echo }\n`);
    const e = errorOf(() => loadConfigFile(cfg));
    expect(e.message).toBe(`${cfg}:2: its *aliases expand too far (past the cap that stops YAML alias bombs); write the values out`);
    const pol = file('bomb-policy.yaml', `version: 1\ndefault: deny\n${levels.join('\n')}\nrules: []\n`);
    expect(errorOf(() => loadPolicyFiles([pol])).message).toBe(`${pol}:4: its *aliases expand too far (past the cap that stops YAML alias bombs); write the values out`);
    // A few aliases are fine.
    expect(loadConfigFile(file('alias-ok.yaml', 'servers:\n  a: &s { command: echo }\n  b: *s\n')).servers.map((s) => s.name)).toEqual(['a', 'b']);
  });

  it('YAML nested past the parser\'s stack is a file error that says so, in a config and a policy', () => {
    const deep = Array.from({ length: 3000 }, (_, i) => `${' '.repeat(i)}a:`).join('\n') + '\n';
    const cfg = file('deep.yaml', deep);
    expect(errorOf(() => loadConfigFile(cfg)).message).toMatch(new RegExp(`^${cfg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+: nested too deep to read \\(no config, policy or manifest nests this far\\)$`));
    const pol = file('deep-policy.yaml', `version: 1\nrules: []\nx:\n${deep.replace(/^/gm, ' ')}`);
    expect(errorOf(() => loadPolicyFiles([pol])).message).toMatch(/:\d+: nested too deep to read/);
  });

  it('names the file, line and key of an unknown key', () => {
    const f = file('unknown.yaml', 'servers:\n  files:\n    command: npx\n    comand: typo\n');
    const e = errorOf(() => loadConfigFile(f));
    expect(e.message).toBe(`${f}:4: servers.files.comand: unknown key`);
    expect(e.line).toBe(4);
  });

  it('names the line of a wrong type and of a bad enum', () => {
    const f = file('types.yaml', 'limits:\n  max_json_depth: "deep"\nservers:\n  a:\n    url: https://x.example/mcp\n    transport: carrier-pigeon\n');
    const e = errorOf(() => loadConfigFile(f));
    expect(e.message).toContain(`${f}:2: limits.max_json_depth: must be integer`);
    expect(e.message).toContain(`${f}:6: servers.a.transport: must be one of "streamable-http", "sse", "websocket"`);
  });

  it('a value that may take several forms: the form it failed inside, else every form on one line', () => {
    const f = file('forms.yaml', 'redaction:\n  max_findings: -1\npins: 5\npolicy: 7\naudit: { db: "" }\n');
    expect(errorOf(() => loadConfigFile(f)).message.split('\n')).toEqual([
      `${f}:2: redaction.max_findings: must be >= 1`,
      `${f}:3: pins: must be false, a string or a map`,
      `${f}:4: policy: must be a list or a map`,
      `${f}:5: audit.db: must NOT have fewer than 1 characters`,
    ]);
  });

  it('patterns are said in words, and a bad name is named', () => {
    const f = file('names.yaml', 'servers:\n  ok: { command: x }\n  "a b": { command: x }\n  c: { url: ftp://x.example }\n');
    expect(errorOf(() => loadConfigFile(f)).message.split('\n')).toEqual([
      `${f}:3: servers: the name "a b": must be 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit`,
      `${f}:4: servers.c.url: must be an http(s):// or ws(s):// URL`,
    ]);
    const p = file('policy.yaml', 'version: 1\nrules:\n  - id: no-ssh\n    effect: deny\n    args:\n      path: { under: [~/.ssh] }\n');
    expect(errorOf(() => loadPolicyFiles([p])).message).toBe(`${p}:6: rules.0.args.path.under.0: must be an absolute path (/… or C:\\…; "~" and relative paths are not read here)`);
  });

  it('~/ in a path is the home directory, as in a shell; other paths are relative to the config file', () => {
    const home = process.env['HOME'];
    process.env['HOME'] = '/home/someone';
    try {
      const f = file('tilde.yaml', 'servers:\n  a:\n    command: x\n    cwd: ~/work\nlog: { file: ~/logs/w.log }\npins: ~/team/lock.json\npolicy: [~/p.yaml, rel.yaml, ~x/p.yaml]\naudit: { db: ~/trail/audit.db, anchor: rel.anchor }\n');
      const cfg = loadConfigFile(f);
      expect(cfg.servers[0]!.cwd).toBe('/home/someone/work');
      expect(cfg.log.file).toBe('/home/someone/logs/w.log');
      expect(pinSettings(cfg)!.lockFile).toBe('/home/someone/team/lock.json');
      expect(policyFiles(cfg).files).toEqual(['/home/someone/p.yaml', path.join(dir, 'rel.yaml'), path.join(dir, '~x/p.yaml')]);
      const audit = auditConfig(cfg.raw['audit'], dir);
      expect([audit.db, audit.anchor, audit.signingKey]).toEqual(['/home/someone/trail/audit.db', path.join(dir, 'rel.anchor'), '/home/someone/trail/audit-signing.key']);
    } finally {
      process.env['HOME'] = home;
    }
  });

  it('substitutes environment variables and refuses missing ones', () => {
    const f = file('env.yaml', 'servers:\n  gh:\n    url: https://api.example.com/mcp\n    headers:\n      authorization: "Bearer ${GH_TOKEN}"\n      literal: "$${NOT_EXPANDED}"\n');
    const cfg = loadConfigFile(f, { GH_TOKEN: 'abc' });
    expect(cfg.servers[0]!.headers).toEqual({ authorization: 'Bearer abc', literal: '${NOT_EXPANDED}' });
    expect(errorOf(() => loadConfigFile(f, {})).message).toBe(`${f}:5: environment variable GH_TOKEN is not set`);
  });

  it('refuses a server that is both a command and a url, or neither', () => {
    expect(errorOf(() => loadConfigFile(file('both.yaml', 'servers:\n  x:\n    command: a\n    url: https://h/mcp\n'))).message).toMatch(/both\.yaml:2: servers\.x: "url" cannot be combined with "command"/);
    expect(errorOf(() => loadConfigFile(file('none.yaml', 'servers:\n  x:\n    env: {}\n'))).message).toMatch(/none\.yaml:2: servers\.x: needs "command"/);
  });

  it('sends the audit trail off the machine only encrypted, to a host it names, through one sink', () => {
    const sink = (name: string, body: string) => errorOf(() => loadConfigFile(file(name, `audit:\n  db: /tmp/a.db\n  sink:\n${body}`))).message;
    expect(sink('tcp.yaml', '    syslog: "tcp://siem.example.com:514"\n')).toBe(`${path.join(dir, 'tcp.yaml')}:4: audit.sink.syslog sends the audit trail unencrypted: use tls:// (tcp:// only to a receiver on this machine)`);
    expect(sink('http.yaml', '    https: "http://10.0.0.5/ingest"\n')).toMatch(/http\.yaml:4: audit\.sink\.https sends the audit trail unencrypted: use https:\/\//);
    expect(sink('nohost.yaml', '    syslog: "tls://"\n')).toMatch(/nohost\.yaml:4: audit\.sink\.syslog names no host$/);
    expect(sink('two.yaml', '    syslog: "tls://siem.example.com"\n    https: "https://siem.example.com/in"\n')).toMatch(/two\.yaml:3: audit\.sink: one of "syslog" or "https", not both$/);
    for (const ok of ['syslog: "tls://siem.example.com:6514"', 'syslog: "tcp://127.0.0.1:514"', 'https: "https://siem.example.com/in"', 'https: "http://localhost:8088/in"', 'https: "http://[::1]:8088/in"']) {
      expect(() => loadConfigFile(file('ok-sink.yaml', `audit:\n  sink:\n    ${ok}\n`))).not.toThrow();
    }
  });

  it('names the client behind a trusted reverse proxy, and takes no other X-Forwarded-For on trust', () => {
    const bad = (name: string, list: string) => errorOf(() => loadConfigFile(file(name, `listen:\n  trusted_proxies: ${list}\n`))).message;
    expect(bad('p1.yaml', '[127.0.0.1, localhost]')).toBe(`${path.join(dir, 'p1.yaml')}:2: listen.trusted_proxies: "localhost" is not an IP address or a CIDR range`);
    expect(bad('p2.yaml', '["10.0.0.0/33"]')).toMatch(/p2\.yaml:2: listen\.trusted_proxies: "10\.0\.0\.0\/33" is not/);
    expect(bad('p3.yaml', '["fd00::/129"]')).toMatch(/"fd00::\/129" is not an IP address or a CIDR range$/);
    expect(loadConfigFile(file('p4.yaml', 'listen:\n  trusted_proxies: [127.0.0.1, "10.0.0.0/8", "fd00::/8", "::1"]\n')).listen.trustedProxies).toHaveLength(4);
    const req = (peer: string, xff?: string | string[]) => ({ socket: { remoteAddress: peer }, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } }) as unknown as IncomingMessage;
    const proxies = proxySet(['127.0.0.1', '10.0.0.0/8', 'fd00::/8']);
    // No list: the peer, whatever it claims.
    expect(clientAddress(req('127.0.0.1', '203.0.113.7'))).toBe('127.0.0.1');
    // A trusted peer (also IPv4-mapped): the rightmost hop it wrote; what the client itself put left of it is not read.
    expect(clientAddress(req('::ffff:127.0.0.1', '6.6.6.6, 203.0.113.7'), proxies)).toBe('203.0.113.7');
    // Through two trusted proxies, and with the header sent twice.
    expect(clientAddress(req('127.0.0.1', '6.6.6.6, 203.0.113.7, 10.1.2.3'), proxies)).toBe('203.0.113.7');
    expect(clientAddress(req('127.0.0.1', ['6.6.6.6, 2001:db8::5', 'fd00::1']), proxies)).toBe('2001:db8::5');
    // A peer not on the list is the answer, whatever it sent; a trusted one that sent nothing usable is itself.
    expect(clientAddress(req('192.0.2.1', '203.0.113.7'), proxies)).toBe('192.0.2.1');
    expect(clientAddress(req('127.0.0.1'), proxies)).toBe('127.0.0.1');
    expect(clientAddress(req('127.0.0.1', 'evil\u0000, not-an-address'), proxies)).toBe('127.0.0.1');
    expect(clientAddress(req('10.0.0.9', '203.0.113.7:4711'), proxies)).toBe('10.0.0.9');
  });

  it('refuses a server header or credential that HTTP cannot carry, naming it but not its value', () => {
    const bad = (name: string, body: string) => errorOf(() => loadConfigFile(file(name, `servers:\n  gh:\n    url: https://api.example.com/mcp\n${body}`), { TOKEN: 'sekrit\nvalue' })).message;
    expect(bad('h1.yaml', '    headers: { x-api-key: "abc\\ndef" }\n')).toBe(`${path.join(dir, 'h1.yaml')}:2: servers.gh.headers: the value of x-api-key cannot be sent as an HTTP header (a line break or a character past U+00FF)`);
    expect(bad('h2.yaml', '    headers: { "bad name": x }\n')).toMatch(/h2\.yaml:2: servers\.gh\.headers: "bad name" is not an HTTP header name$/);
    const fromEnv = bad('h3.yaml', '    auth: { type: bearer, token: "${TOKEN}" }\n');
    expect(fromEnv).toMatch(/h3\.yaml:2: servers\.gh\.auth\.token cannot be sent as an HTTP header/);
    expect(fromEnv).not.toContain('sekrit');
    expect(() => loadConfigFile(file('h5.yaml', 'servers:\n  gh:\n    url: https://api.example.com/mcp\n    headers: { x-api-key: "caf\u00e9 ok" }\n'))).not.toThrow();
  });

  it('refuses a time longer than a timer can hold (it fired at once: every request timed out)', () => {
    expect(errorOf(() => loadConfigFile(file('t1.yaml', 'limits:\n  request_timeout_s: 3000000\n'))).message).toBe(`${path.join(dir, 't1.yaml')}:2: limits.request_timeout_s: must be <= 2147483`);
    expect(errorOf(() => loadConfigFile(file('t2.yaml', 'servers:\n  a:\n    command: x\n    idle_timeout_s: 1e12\n'))).message).toMatch(/t2\.yaml:4: servers\.a\.idle_timeout_s: must be <= 2147483/);
    expect(errorOf(() => loadConfigFile(file('t3.yaml', 'audit:\n  checkpoint: { every_s: 1e10 }\n'))).message).toMatch(/t3\.yaml:2: audit\.checkpoint\.every_s: must be <= 2147483/);
    expect(() => loadConfigFile(file('t4.yaml', 'limits:\n  request_timeout_s: 2147483\n'))).not.toThrow();
  });

  it('reports YAML syntax errors and duplicate keys with a line', () => {
    expect(errorOf(() => loadConfigFile(file('dup.yaml', 'servers:\n  a:\n    command: x\n  a:\n    command: y\n'))).message).toMatch(/dup\.yaml:4:/);
    expect(errorOf(() => loadConfigFile(file('syntax.yaml', 'servers:\n  a: [\n'))).message).toMatch(/syntax\.yaml:\d+:/);
    // Keys that become one key in an object (the number 1 and the text "1"): the last would win without a word.
    expect(errorOf(() => loadConfigFile(file('dup2.yaml', 'servers:\n  1:\n    command: x\n  "1":\n    command: y\n'))).message).toBe(`${path.join(dir, 'dup2.yaml')}:4: Map keys must be unique ("1" is written twice)`);
    // The same key in two maps is no repeat.
    expect(() => loadConfigFile(file('two.yaml', 'servers:\n  a:\n    command: x\n    env: { command: y }\n'))).not.toThrow();
  });

  it('never reads a config file from the current directory', () => {
    const cwd = mkdtempSync(path.join(os.tmpdir(), 'mcpw-cwd-'));
    writeFileSync(path.join(cwd, 'config.yaml'), 'servers: {x: {command: evil}}\n');
    writeFileSync(path.join(cwd, 'mcp-warden.yaml'), 'servers: {x: {command: evil}}\n');
    const prev = process.cwd();
    process.chdir(cwd);
    try {
      const home = mkdtempSync(path.join(os.tmpdir(), 'mcpw-home-'));
      const { source, config } = findConfig(undefined, { XDG_CONFIG_HOME: home, HOME: home });
      expect(source).toBe('none');
      expect(config.servers).toEqual([]);
    } finally {
      process.chdir(prev);
    }
  });
});

describe('child environment', () => {
  const server = { env: { EXTRA: '1' } } as unknown as Parameters<typeof childEnv>[1];
  it('wrap passes the host environment minus MCP_WARDEN_* plus the entry env', () => {
    const env = childEnv('wrap', server, { PATH: '/bin', API_TOKEN: 't', MCP_WARDEN_CONFIG: '/x', MCP_WARDEN_SECRET: 's' });
    expect(env).toEqual({ PATH: '/bin', API_TOKEN: 't', EXTRA: '1' });
  });
  it('serve passes only PATH, HOME, the locale and the entry env', () => {
    const env = childEnv('serve', server, { PATH: '/bin', HOME: '/h', LANG: 'C.UTF-8', LC_ALL: 'C', AWS_SECRET_ACCESS_KEY: 'x', API_TOKEN: 't' });
    expect(env).toEqual({ PATH: '/bin', HOME: '/h', LANG: 'C.UTF-8', LC_ALL: 'C', EXTRA: '1' });
  });
});
