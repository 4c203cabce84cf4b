/**
 * Issue 8, done-when 5 and 2: the packed tarball holds what `npx mcp-warden` needs and nothing else; installed into a
 * temporary prefix it runs `--help` and a `wrap` session; and the exact command line of the README's desktop-host
 * snippet, started the way a desktop host starts it (the SDK's default environment plus the entry's env, cwd /, no
 * TTY), completes a session with an SDK client. `npx -y mcp-warden` finds the installed package through the
 * temporary HOME's npm prefix, so nothing is fetched for mcp-warden itself.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient } from '../helpers/clients.js';
import { NODE, ROOT, tmpDir } from '../helpers/cli.js';

const FAULT = path.join(ROOT, 'test/fixtures/fault-server.mjs');
const NPM = path.join(path.dirname(NODE), 'npm');

let dir: string;
let prefix: string;
let home: string;
let tarball: string;
let files: string[];
const savedHome = process.env['HOME'];

function npm(args: string[], cwd: string, env: Record<string, string> = {}): string {
  return execFileSync(NPM, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 2 ** 20 });
}

beforeAll(async () => {
  dir = tmpDir('mcpw-pack-');
  prefix = path.join(dir, 'prefix');
  home = path.join(dir, 'home');
  mkdirSync(home, { recursive: true });
  // The temporary HOME keeps this machine's npm settings (registry, CA file) and points the global prefix at ours.
  const userrc = npm(['config', 'get', 'userconfig'], ROOT).trim();
  const rc = existsSync(userrc) ? readFileSync(userrc, 'utf8').split('\n').filter((l) => !/^\s*prefix\s*=/.test(l)).join('\n') : '';
  // npm's own cache, offline first: `npx` reads a package's manifest for its bin name, and this machine's registry
  // access may need more than a desktop host's environment carries (a proxy's CA in NODE_EXTRA_CA_CERTS).
  const cache = npm(['config', 'get', 'cache'], ROOT).trim();
  writeFileSync(path.join(home, '.npmrc'), `${rc}\nprefix=${prefix}\ncache=${cache}\nprefer-offline=true\n`, { mode: 0o600 });
  const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', dir], ROOT)) as { filename: string; files: { path: string }[] }[];
  tarball = path.join(dir, packed[0]!.filename);
  files = packed[0]!.files.map((f) => f.path);
  // Dependencies come from npm's cache when it has them. Install scripts do not run: the only ones in the tree are the
  // two native addons' builds from source (about three minutes of CPU together, most of this file's time), which
  // `npm ci` has just run for the same pinned versions on the same Node. Their built binaries are copied in instead,
  // so the installed package still loads real better-sqlite3 and re2 below (the audit trail, the redaction stage).
  const common = ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'];
  npm([...common, tarball], dir, { HOME: home });
  const installed = path.join(prefix, 'lib', 'node_modules', 'mcp-warden', 'node_modules');
  for (const [dep, binary] of [['better-sqlite3', 'better_sqlite3.node'], ['re2', 're2.node']] as const) {
    const version = (d: string): string => (JSON.parse(readFileSync(path.join(d, dep, 'package.json'), 'utf8')) as { version: string }).version;
    expect(version(installed), `${dep}: the installed version must be the one npm ci built`).toBe(version(path.join(ROOT, 'node_modules')));
    mkdirSync(path.join(installed, dep, 'build', 'Release'), { recursive: true });
    copyFileSync(path.join(ROOT, 'node_modules', dep, 'build', 'Release', binary), path.join(installed, dep, 'build', 'Release', binary));
  }
  npm([...common, `@modelcontextprotocol/server-everything@${(JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> }).devDependencies['@modelcontextprotocol/server-everything']}`], dir, { HOME: home });
}, 600_000);

afterAll(() => {
  if (savedHome === undefined) delete process.env['HOME'];
  else process.env['HOME'] = savedHome;
});

describe('the npm package', () => {
  it('holds the compiled CLI, schemas, rules, audit schema and examples, and no sources, tests, maps or secrets', () => {
    for (const f of ['package.json', 'README.md', 'SECURITY.md', 'LICENSE', 'dist/cli/index.js', 'schemas/config.schema.json', 'schemas/policy.schema.json', 'audit/schema.sql', 'examples/gateway.yaml']) expect(files).toContain(f);
    expect(files.some((f) => f.startsWith('rules/policies/'))).toBe(true);
    expect(files.some((f) => f.startsWith('rules/redaction/'))).toBe(true);
    // The installed package's own lifecycle scripts would not run in this file's install (it passes --ignore-scripts).
    const scripts = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts?: Record<string, string> }).scripts ?? {};
    expect(Object.keys(scripts).filter((k) => /^(pre|post)?install$/.test(k))).toEqual([]);
    const stray = files.filter((f) => /^(src|test|bench|docs|node_modules|\.ci|\.cache)\//.test(f) || f.endsWith('.map') || f.endsWith('.ts') || /(^|\/)\.env|\.key$|\.db$/.test(f));
    expect(stray).toEqual([]);
  });

  it('runs --help from the installed package', () => {
    const r = spawnSync(path.join(prefix, 'bin', 'mcp-warden'), ['--help'], { encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '', HOME: home }, cwd: '/' });
    expect(r.status, r.stderr).toBe(0);
    for (const cmd of ['wrap', 'serve', 'audit', 'lint', 'install', 'uninstall', 'demo']) expect(r.stdout).toContain(cmd);
  });

  it('runs a wrap session from the installed package', async () => {
    const c = await connectClient('v1', { kind: 'stdio', command: path.join(prefix, 'bin', 'mcp-warden'), args: ['wrap', '--', NODE, FAULT], env: { HOME: home, API_TOKEN: 'tok' }, cwd: '/' });
    try {
      const r = (await c.callTool('env', { name: 'API_TOKEN' })) as { content: { text: string }[] };
      expect(r.content[0]!.text).toBe('set');
    } finally {
      await c.close();
    }
  });

  it("launches the README's desktop-host snippet exactly as written, the way a desktop host does", async () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Wrap a server for a desktop host'));
    const snippet = /```json\n([\s\S]*?)\n```/.exec(section)![1]!;
    const servers = (JSON.parse(snippet) as { mcpServers: Record<string, { command: string; args: string[]; env?: Record<string, string> }> }).mcpServers;
    const [name, entry] = Object.entries(servers)[0]!;
    expect(entry.command).toBe('npx');
    expect(entry.args.slice(0, 3)).toEqual(['-y', 'mcp-warden', 'wrap']);
    // A desktop host on the SDK starts the entry with the SDK's default environment (HOME, PATH, USER, …) plus the
    // entry's env, from its own working directory, over pipes. HOME is the test's, whose npm prefix holds the package.
    process.env['HOME'] = home;
    const c = await connectClient('v1', { kind: 'stdio', command: entry.command, args: entry.args, env: entry.env ?? {}, cwd: '/' });
    try {
      expect(c.serverVersion()?.name).toBe('mcp-servers/everything');
      const echo = (await c.callTool('echo', { message: `hello from ${name}` })) as { content: { text: string }[] };
      expect(echo.content[0]!.text).toContain(`hello from ${name}`);
      // And the call went through mcp-warden: its audit trail, in the state directory under HOME, has it.
      const verify = spawnSync(path.join(prefix, 'bin', 'mcp-warden'), ['audit', 'query', '--format', 'json'], { encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '', HOME: home }, cwd: '/' });
      expect(verify.status, verify.stderr).toBe(0);
      expect(verify.stdout).toContain('echo');
    } finally {
      await c.close();
      process.env['HOME'] = savedHome;
    }
  });
});
