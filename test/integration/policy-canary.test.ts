/**
 * Issue 3, done-when 2: canaries. A policy allows one directory (and one host); the real filesystem server is given
 * the whole tree, so only mcp-warden stands between the model and the canaries. Path and URL evasions — single and
 * array arguments, relative, encoded, case variants — are sent through wrap; no canary may be read, written or
 * contacted, as seen on disk, at the server's door (a tap that records what the server receives) and at the canary
 * host, not by the proxy's word. The legitimate forms succeed.
 */
import { readdirSync, readFileSync, statSync, utimesSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, type McpClient } from '../helpers/clients.js';
import { isolatedEnv, NODE, ROOT, tmpDir, writeConfig, wrapArgs } from '../helpers/cli.js';

const FS_SERVER = path.join(ROOT, 'node_modules/@modelcontextprotocol/server-filesystem/dist/index.js');
const TAP = path.join(ROOT, 'test/fixtures/tap.mjs');
const FAULT = path.join(ROOT, 'test/fixtures/fault-server.mjs');
const OLD = new Date('2001-01-01T00:00:00Z');

const R = tmpDir('mcpw-tree-');
const D = path.join(R, 'data');
const A = path.join(D, 'allowed');
const CANARIES = [path.join(D, 'canary-beside.txt'), path.join(R, 'canary-above.txt'), path.join(D, 'allowed-evil', 'secret.txt'), path.join(D, 'ALLOWED', 'canary-case.txt'), path.join(D, 'Allowed', 'canary-case2.txt')];

function text(r: Record<string, unknown>): string {
  return ((r['content'] as { text?: string }[] | undefined) ?? []).map((c) => c.text ?? '').join('');
}

/** Times only: reading a canary here would itself update its atime. */
function snapshot(): Record<string, { atime: number; mtime: number; size: number }> {
  const out: Record<string, { atime: number; mtime: number; size: number }> = {};
  for (const c of CANARIES) {
    const st = statSync(c);
    out[c] = { atime: st.atimeMs, mtime: st.mtimeMs, size: st.size };
  }
  return out;
}

function listTree(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    out.push(p);
    if (e.isDirectory()) out.push(...listTree(p));
  }
  return out.sort();
}

let before: ReturnType<typeof snapshot>;
let treeBefore: string[];
let fs: McpClient;
let tapLog: string;

beforeAll(async () => {
  mkdirSync(path.join(A, 'sub'), { recursive: true });
  writeFileSync(path.join(A, 'public.txt'), 'public content');
  writeFileSync(path.join(A, 'sub', 'inner.txt'), 'inner content');
  for (const c of CANARIES) {
    mkdirSync(path.dirname(c), { recursive: true });
    writeFileSync(c, `CANARY ${path.basename(c)} must never be read`);
    // atime before mtime: any read updates atime even under relatime.
    utimesSync(c, OLD, new Date(OLD.getTime() + 86_400_000));
  }
  before = snapshot();
  treeBefore = listTree(R).filter((p) => !p.startsWith(A));
  tapLog = path.join(tmpDir('mcpw-tap-'), 'tap.log');
  const policy = path.join(tmpDir('mcpw-pol-'), 'policy.yaml');
  writeFileSync(
    policy,
    `version: 1
default: deny
rules:
  - id: read
    effect: allow
    servers: [fs]
    tools: [read_file, read_text_file, read_media_file, list_directory, list_directory_with_sizes, directory_tree, search_files, get_file_info]
    args:
      path: { under: [${JSON.stringify(A)}] }
  - id: read-many
    effect: allow
    servers: [fs]
    tools: [read_multiple_files]
    args:
      paths[*]: { under: [${JSON.stringify(A)}] }
  - id: write
    effect: allow
    servers: [fs]
    tools: [write_file, create_directory, edit_file]
    args:
      path: { under: [${JSON.stringify(A)}] }
  - id: move
    effect: allow
    servers: [fs]
    tools: [move_file]
    args:
      source: { under: [${JSON.stringify(A)}] }
      destination: { under: [${JSON.stringify(A)}] }
`,
  );
  const cfg = writeConfig(`audit:\n  db: ${path.join(tmpDir('mcpw-a-'), 'audit.db')}\n`);
  fs = await connectClient('v1', { kind: 'stdio', command: NODE, args: wrapArgs('--config', cfg, '--policy', policy, '--name', 'fs', '--', NODE, TAP, '--', NODE, FS_SERVER, R), env: isolatedEnv({ TAP_LOG: tapLog }) });
});

afterAll(async () => {
  await fs?.close();
});

const e = (p: string) => p; // evasions are written as literal strings below
const PATH_EVASIONS: [string, Record<string, unknown>][] = [
  ...[
    `${A}/../canary-beside.txt`,
    `${A}/./../canary-beside.txt`,
    `${A}//..//canary-beside.txt`,
    `${A}/sub/../../canary-beside.txt`,
    `${A}/sub/../../../canary-above.txt`,
    `${A}/%2e%2e/canary-beside.txt`,
    `${A}/%2E%2E/canary-beside.txt`,
    `${A}/%252e%252e/canary-beside.txt`,
    `${A}/..%2fcanary-beside.txt`,
    `${A}/..%252fcanary-beside.txt`,
    `${A}%2f..%2fcanary-beside.txt`,
    `${A}\\..\\canary-beside.txt`,
    `${A}/..\\canary-beside.txt`,
    `${A}/sub\\..\\..\\canary-beside.txt`,
    `${A}／..／canary-beside.txt`,
    `${A}/．．/canary-beside.txt`,
    `${A}/‥/canary-beside.txt`,
    `${A}/public.txt\u0000/../../canary-beside.txt`,
    `${A}/%00/../../canary-beside.txt`,
    `${D}/allowed-evil/secret.txt`,
    `${A}-evil/secret.txt`,
    `${A}/../allowed-evil/secret.txt`,
    `${D}/ALLOWED/canary-case.txt`,
    `${D}/Allowed/canary-case2.txt`,
    `${D}/ALLOWED/../canary-beside.txt`,
    `${D}/canary-beside.txt`,
    `${R}/canary-above.txt`,
    `${R}/data/./canary-beside.txt`,
    'canary-beside.txt',
    '../canary-beside.txt',
    `./data/canary-beside.txt`,
    `data/allowed/../canary-beside.txt`,
    `~/canary-beside.txt`,
    `file://${D}/canary-beside.txt`,
    `file://${A}/../canary-beside.txt`,
    `file://localhost${D}/canary-beside.txt`,
    `${A}/sub/..%2f..%2fcanary-beside.txt`,
    `${A}/\t../canary-beside.txt`,
    `${A}/../canary-beside.txt\n`,
    `${A}/${'x/'.repeat(2100)}../`.repeat(1),
  ].map((p): [string, Record<string, unknown>] => ['read_text_file', { path: e(p) }]),
  ['read_file', { path: `${A}/../canary-beside.txt` }],
  ['read_media_file', { path: `${D}/canary-beside.txt` }],
  ['get_file_info', { path: `${A}/../canary-beside.txt` }],
  ['list_directory', { path: `${A}/..` }],
  ['list_directory', { path: D }],
  ['directory_tree', { path: R }],
  ['search_files', { path: D, pattern: 'canary' }],
  ['read_multiple_files', { paths: [`${A}/public.txt`, `${D}/canary-beside.txt`] }],
  ['read_multiple_files', { paths: [`${A}/public.txt`, `${A}/../canary-beside.txt`] }],
  ['read_multiple_files', { paths: [`${A}/public.txt`, `${A}/%2e%2e/canary-beside.txt`] }],
  ['read_multiple_files', { paths: [`${A}/public.txt`, 'canary-beside.txt'] }],
  ['read_multiple_files', { paths: [`${A}/public.txt`, `${D}/ALLOWED/canary-case.txt`] }],
  ['read_multiple_files', { paths: `${D}/canary-beside.txt` }],
  ['read_multiple_files', { paths: [[`${D}/canary-beside.txt`]] }],
  ['move_file', { source: `${D}/canary-beside.txt`, destination: `${A}/stolen.txt` }],
  ['move_file', { source: `${A}/public.txt`, destination: `${D}/canary-beside.txt` }],
  ['move_file', { source: `${A}/../canary-beside.txt`, destination: `${A}/x.txt` }],
  ['move_file', { source: `${A}/public.txt` }],
  ['write_file', { path: `${D}/canary-beside.txt`, content: 'overwritten' }],
  ['write_file', { path: `${A}/../canary-beside.txt`, content: 'overwritten' }],
  ['write_file', { path: `${A}/%2e%2e/canary-above.txt`, content: 'overwritten' }],
  ['write_file', { path: `${D}/new-outside.txt`, content: 'x' }],
  ['edit_file', { path: `${D}/canary-beside.txt`, edits: [{ oldText: 'CANARY', newText: 'X' }] }],
  ['create_directory', { path: `${D}/newdir` }],
  ['read_text_file', { path: `${A}/../canary-beside.txt`, path2: 'x' }],
  ['read_text_file', { Path: `${A}/public.txt`, path: `${D}/canary-beside.txt` }],
];

describe('path canaries through wrap with the real filesystem server', () => {
  it(`refuses all ${PATH_EVASIONS.length} path evasions`, async () => {
    expect(PATH_EVASIONS.length).toBeGreaterThanOrEqual(50);
    const leaked: string[] = [];
    for (const [tool, args] of PATH_EVASIONS) {
      let r: Record<string, unknown>;
      try {
        r = await fs.callTool(tool, args);
      } catch (err) {
        continue; // a JSON-RPC error (e.g. -32602) is a refusal too
      }
      const t = text(r);
      if (r['isError'] !== true || t.includes('CANARY') || !t.startsWith('mcp-warden')) leaked.push(`${tool} ${JSON.stringify(args).slice(0, 120)} → ${t.slice(0, 120)}`);
    }
    expect(leaked).toEqual([]);
  });

  it('lets the legitimate forms through to the real server', async () => {
    expect(text(await fs.callTool('read_text_file', { path: `${A}/public.txt` }))).toBe('public content');
    expect(text(await fs.callTool('read_text_file', { path: `${A}//sub/./inner.txt` }))).toBe('inner content');
    expect(text(await fs.callTool('read_text_file', { path: `${A}/sub/../public.txt` }))).toBe('public content');
    expect(text(await fs.callTool('read_multiple_files', { paths: [`${A}/public.txt`, `${A}/sub/inner.txt`] }))).toMatch(/public content[\s\S]*inner content/);
    expect(text(await fs.callTool('list_directory', { path: `${A}/` }))).toMatch(/public\.txt/);
    const w = await fs.callTool('write_file', { path: `${A}/written.txt`, content: 'ok' });
    expect(w['isError']).not.toBe(true);
    expect(readFileSync(path.join(A, 'written.txt'), 'utf8')).toBe('ok');
    const m = await fs.callTool('move_file', { source: `${A}/written.txt`, destination: `${A}/sub/moved.txt` });
    expect(m['isError']).not.toBe(true);
    expect(existsSync(path.join(A, 'sub', 'moved.txt'))).toBe(true);
  });

  it('no canary was read, written or moved, and nothing new appeared outside the allowed directory', () => {
    expect(snapshot()).toEqual(before);
    for (const c of CANARIES) expect(readFileSync(c, 'utf8')).toBe(`CANARY ${path.basename(c)} must never be read`);
    expect(listTree(R).filter((p) => !p.startsWith(A))).toEqual(treeBefore);
  });

  it('the server never received a refused call', () => {
    const calls = readFileSync(tapLog, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { method?: string; params?: { name?: string; arguments?: unknown } })
      .filter((m) => m.method === 'tools/call');
    const seen = JSON.stringify(calls.map((c) => c.params?.arguments));
    expect(seen).not.toMatch(/canary|allowed-evil|ALLOWED|Allowed\/|new-outside|newdir|stolen/);
    // Only the legitimate calls reached it.
    expect(calls.length).toBe(7);
  });
});

describe('URL canaries through wrap', () => {
  let canary: http.Server;
  let allowed: http.Server;
  let contacts = 0;
  let AP = 0;
  let CP = 0;
  let faults: McpClient;

  beforeAll(async () => {
    canary = http.createServer((_q, s) => s.end('CANARY HOST'));
    canary.on('connection', () => contacts++);
    allowed = http.createServer((_q, s) => s.end('allowed host'));
    await new Promise<void>((r) => canary.listen(0, '127.0.0.3', () => r()));
    await new Promise<void>((r) => allowed.listen(0, '127.0.0.2', () => r()));
    CP = (canary.address() as AddressInfo).port;
    AP = (allowed.address() as AddressInfo).port;
    const policy = path.join(tmpDir('mcpw-pol-'), 'urls.yaml');
    writeFileSync(
      policy,
      `version: 1
default: deny
rules:
  - id: fetch
    effect: allow
    servers: [faults]
    tools: [fetch]
    args:
      url: { hosts: [127.0.0.2], schemes: [http] }
  - id: fetch-many
    effect: allow
    servers: [faults]
    tools: [fetch_many]
    args:
      urls[*]: { hosts: [127.0.0.2], schemes: [http] }
`,
    );
    const cfg = writeConfig(`audit:\n  db: ${path.join(tmpDir('mcpw-a-'), 'audit.db')}\n`);
    faults = await connectClient('v1', { kind: 'stdio', command: NODE, args: wrapArgs('--config', cfg, '--policy', policy, '--name', 'faults', '--', NODE, FAULT), env: isolatedEnv() });
  });

  afterAll(async () => {
    await faults?.close();
    canary?.close();
    allowed?.close();
  });

  const evasions = () => [
    `http://127.0.0.3:${CP}/`,
    `http://127.0.0.3:${CP}/x?y=1`,
    `http://2130706435:${CP}/`,
    `http://0x7f000003:${CP}/`,
    `http://0x7F000003:${CP}/`,
    `http://0177.0.0.3:${CP}/`,
    `http://0177.0000.0000.0003:${CP}/`,
    `http://127.3:${CP}/`,
    `http://127.0.3:${CP}/`,
    `http://0x7f.0.0.3:${CP}/`,
    `http://0x7f.0x0.0x0.0x3:${CP}/`,
    `http://017700000003:${CP}/`,
    `http://[::ffff:127.0.0.3]:${CP}/`,
    `http://[::ffff:7f00:3]:${CP}/`,
    `http://[0:0:0:0:0:ffff:127.0.0.3]:${CP}/`,
    `http://127.0.0.2@127.0.0.3:${CP}/`,
    `http://127.0.0.2:${AP}@127.0.0.3:${CP}/`,
    `http://user:pass@127.0.0.3:${CP}/`,
    `http://127.0.0.2%40127.0.0.3:${CP}/`,
    `http://127.0.0.3:${CP}\\@127.0.0.2/`,
    `http://127.0.0.3:${CP}/#@127.0.0.2`,
    `http://127.0.0.3:${CP}/?@127.0.0.2`,
    `http:/\\127.0.0.3:${CP}/`,
    `http:\\\\127.0.0.3:${CP}/`,
    `//127.0.0.3:${CP}/`,
    `127.0.0.3:${CP}`,
    `HTTP://127.0.0.3:${CP}/`,
    `http://127.0.0.3.:${CP}/`,
    ` http://127.0.0.3:${CP}/`,
    `http://127.0.0.3:${CP}/\n`,
    `http://127.0.0.\t3:${CP}/`,
    `http://127%2e0%2e0%2e3:${CP}/`,
    `http://%31%32%37.0.0.3:${CP}/`,
    `http://１２７.０.０.３:${CP}/`,
    `http://127。0。0。3:${CP}/`,
    `http://127．0．0．3:${CP}/`,
    `http://①②⑦.0.0.3:${CP}/`,
    `https://127.0.0.3:${CP}/`,
    `ftp://127.0.0.3:${CP}/`,
    `ws://127.0.0.3:${CP}/`,
    `http:127.0.0.3:${CP}/`,
    `http:///127.0.0.3:${CP}/`,
    `http://127.0.0.3:${CP}/${'a'.repeat(9000)}`,
    `http://127.0.0.3:${CP}/\u0000`,
    `http://127.0.0.2.127.0.0.3:${CP}/`,
    `http://localhost:${CP}/`,
    `http://[::1]:${CP}/`,
    `http://0:${CP}/`,
    `javascript:fetch('http://127.0.0.3:${CP}/')`,
    `data:text/plain,http://127.0.0.3:${CP}/`,
  ];

  it('refuses at least 50 URL evasions, and the canary host is never contacted', async () => {
    const list = evasions();
    expect(list.length).toBeGreaterThanOrEqual(50);
    const leaked: string[] = [];
    for (const url of list) {
      const r = await faults.callTool('fetch', { url });
      if (r['isError'] !== true || text(r).includes('CANARY')) leaked.push(`${JSON.stringify(url).slice(0, 80)} → ${text(r).slice(0, 80)}`);
    }
    for (const urls of [[`http://127.0.0.2:${AP}/`, `http://127.0.0.3:${CP}/`], [`http://127.0.0.2:${AP}/`, `http://2130706435:${CP}/`], [`http://127.0.0.2@127.0.0.3:${CP}/`]]) {
      const r = await faults.callTool('fetch_many', { urls });
      if (r['isError'] !== true) leaked.push(`fetch_many ${JSON.stringify(urls)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(leaked).toEqual([]);
    expect(contacts).toBe(0);
  });

  it('lets the allowed host through', async () => {
    expect(text(await faults.callTool('fetch', { url: `http://127.0.0.2:${AP}/ok` }))).toBe('200 allowed host');
    expect(text(await faults.callTool('fetch_many', { urls: [`http://127.0.0.2:${AP}/a`, `http://127.0.0.2:${AP}/b?c=d`] }))).toBe('200 allowed host\n200 allowed host');
    expect(contacts).toBe(0);
  });
});
