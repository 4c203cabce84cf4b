/**
 * Issue 8, done-when 4: `/metrics` is scraped and shows calls by server, tool and decision, latency histograms,
 * redactions by rule, the audit queue, sessions and upstream failures; SIGTERM during calls loses no audit event and
 * ends with a final checkpoint that covers every event.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import Database from 'better-sqlite3';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents } from '../helpers/audit.js';
import { gone } from '../helpers/procs.js';
import { connectClient, type McpClient } from '../helpers/clients.js';
import { ALLOW_ALL, CLI, EVERYTHING, isolatedEnv, NODE, ROOT, startServe, tmpDir, writeTemp, type Running } from '../helpers/cli.js';

const DEMO = path.join(ROOT, 'examples/demo-server.mjs');
const FAULT = path.join(ROOT, 'test/fixtures/fault-server.mjs');

function metricValue(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const m = /^[^{ ]+(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const have = Object.fromEntries([...(m[1] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[2]);
  }
  return undefined;
}

describe('/metrics', () => {
  let gw: Running;
  let demo: McpClient;
  let fault: McpClient;

  beforeAll(async () => {
    const dir = tmpDir('mcpw-metrics-');
    const policy = writeTemp(
      'policy.yaml',
      `version: 1
default: deny
rules:
  - { id: lookups, effect: allow, servers: [demo], tools: [lookup_customer, get_deploy_config] }
  - { id: no-deletes, effect: deny, servers: [demo], tools: [delete_file] }
  - { id: faults, effect: allow, servers: [fault], tools: ["*"] }
`,
      dir,
    );
    gw = await startServe(`servers:
  demo: { command: ${JSON.stringify(NODE)}, args: [${JSON.stringify(DEMO)}] }
  fault: { command: ${JSON.stringify(NODE)}, args: [${JSON.stringify(FAULT)}] }
policy: [${JSON.stringify(policy)}]
redaction: { packs: [secrets, pii], action: mask }
audit: { db: ${JSON.stringify(path.join(dir, 'audit.db'))} }
pins: false
`);
    demo = await connectClient('v1', { kind: 'http', url: `${gw.url}/demo/mcp` });
    fault = await connectClient('v1', { kind: 'http', url: `${gw.url}/fault/mcp` });
  });

  afterAll(async () => {
    await demo?.close().catch(() => undefined);
    await fault?.close().catch(() => undefined);
    await gw?.stop();
  });

  it('shows calls by server, tool and decision, latency, redactions by rule, audit queue, sessions and upstream failures', async () => {
    const looked = await demo.callTool('lookup_customer', { id: 'C-1042' });
    expect(JSON.stringify(looked)).toContain('[REDACTED');
    await demo.callTool('lookup_customer', { id: 'C-1042' });
    const cfg = await demo.callTool('get_deploy_config', { env: 'prod' });
    expect(JSON.stringify(cfg)).toContain('[REDACTED');
    const denied = await demo.callTool('delete_file', { path: '/data/x' }).catch((e: Error) => ({ thrown: e.message }));
    // A tool the policy denies outright is hidden, and a call to it is answered as for an unknown tool.
    expect(JSON.stringify(denied)).toContain('Tool delete_file not found');
    await fault.callTool('echo', { text: 'hi' });
    await fault.callTool('die', { code: 3 }).catch(() => undefined);
    // A name the server never listed is the caller's text: counted, not shown.
    await demo.callTool('export_all_ghp_Zx81kQ', {}).catch(() => undefined);

    const res = await fetch(`${gw.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    if (process.env['SHOW_METRICS']) console.log(text.split('\n').filter((l) => l.startsWith('mcp_warden_') && !l.startsWith('mcp_warden_process') && !l.startsWith('mcp_warden_nodejs')).join('\n'));

    expect(metricValue(text, 'mcp_warden_calls_total', { server: 'demo', method: 'tools/call', tool: 'lookup_customer', decision: 'allow', outcome: 'ok' })).toBe(2);
    expect(metricValue(text, 'mcp_warden_calls_total', { server: 'demo', method: 'tools/call', tool: 'get_deploy_config', decision: 'allow', outcome: 'ok' })).toBe(1);
    const deny = text.split('\n').find((l) => l.startsWith('mcp_warden_calls_total{') && l.includes('tool="delete_file"'));
    expect(deny).toContain('decision="deny"');
    expect(Number(deny!.split(' ').pop())).toBe(1);
    expect(metricValue(text, 'mcp_warden_calls_total', { server: 'fault', tool: 'echo', decision: 'allow', outcome: 'ok' })).toBe(1);
    expect(text).not.toContain('export_all_ghp_Zx81kQ');
    expect(text.split('\n').some((l) => l.startsWith('mcp_warden_calls_total{') && l.includes('server="demo"') && l.includes('tool="(unlisted)"'))).toBe(true);

    expect(metricValue(text, 'mcp_warden_call_duration_seconds_count', { server: 'demo', method: 'tools/call' })).toBe(5);
    expect(metricValue(text, 'mcp_warden_call_duration_seconds_bucket', { server: 'demo', method: 'tools/call', le: '+Inf' })).toBe(5);

    const redactionLines = text.split('\n').filter((l) => l.startsWith('mcp_warden_redactions_total{') && l.includes('server="demo"'));
    expect(redactionLines.length).toBeGreaterThan(1);
    expect(redactionLines.every((l) => /rule="[\w.:-]+"/.test(l) && l.includes('direction="outbound"'))).toBe(true);
    // Counts and rule names only: no matched value is ever a label.
    expect(text).not.toMatch(/Dana|Whitfield|@example|AKIA|sk_live/);

    expect(metricValue(text, 'mcp_warden_audit_queue_depth', {})).toBeGreaterThanOrEqual(0);
    expect(metricValue(text, 'mcp_warden_audit_events_committed', {})).toBeGreaterThan(5);
    expect(metricValue(text, 'mcp_warden_sessions', { server: 'demo' })).toBe(1);
    expect(metricValue(text, 'mcp_warden_upstream_failures_total', { server: 'fault', kind: 'crash' })).toBe(1);
    expect(metricValue(text, 'mcp_warden_events_total', { event: 'session_start', server: 'demo' })).toBe(1);
    expect(text).toContain('# TYPE mcp_warden_upstream_restarts_total counter');
    expect(metricValue(text, 'mcp_warden_process_resident_memory_bytes', {})).toBeGreaterThan(10 * 2 ** 20);
    // The young generation stays at its starting size (cli/heap.ts proxyHeapFlags): Node's default would have
    // grown it to 16 MiB by now (start-up alone does), most of the difference in resident memory under load.
    const young = metricValue(text, 'mcp_warden_nodejs_heap_space_size_total_bytes', { space: 'new' });
    expect(young).toBeGreaterThan(0);
    expect(young).toBeLessThanOrEqual(2 * 2 ** 20);
  });

  it('counts methods the caller made up under one label', async () => {
    // A method name is the caller's text: as a label, each new one would be a new series held for good and
    // printed on every scrape, and it may carry anything.
    const made = Array.from({ length: 150 }, (_, i) => `x/made_up_${i}_ghp_Zx81kQ`);
    for (const m of made) await demo.request(m, {}).catch(() => undefined);
    await demo.request('resources/list', {}).catch(() => undefined);
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    const methods = new Set([...text.matchAll(/^mcp_warden_calls_total\{[^}]*server="demo"[^}]*method="([^"]*)"/gm)].map((m) => m[1]));
    expect(methods.has('resources/list')).toBe(true);
    expect(methods.has('(other)')).toBe(true);
    expect([...methods].filter((m) => m!.startsWith('x/made_up_'))).toEqual([]);
    expect(text).not.toContain('made_up');
    const other = text.split('\n').filter((l) => l.startsWith('mcp_warden_calls_total{') && l.includes('server="demo"') && l.includes('method="(other)"'));
    expect(other.reduce((n, l) => n + Number(l.split(' ').pop()), 0)).toBe(150);
  });

  it('is refused to a request a reverse proxy forwarded, though it arrives from loopback', async () => {
    const forwarded: Record<string, string>[] = [{ 'x-forwarded-for': '203.0.113.9' }, { forwarded: 'for=203.0.113.9;proto=https' }, { 'x-real-ip': '203.0.113.9' }, { via: '1.1 edge' }];
    for (const header of forwarded) {
      const res = await fetch(`${gw.url}/metrics`, { headers: header });
      expect(res.status, JSON.stringify(header)).toBe(403);
      expect(await res.text()).toMatch(/not through a reverse proxy/);
    }
    expect((await fetch(`${gw.url}/metrics`)).status).toBe(200);
  });

  it('/healthz and /readyz answer', async () => {
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${gw.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
  });

  it('SIGHUP (systemctl reload, a closing terminal) leaves it serving', async () => {
    // Node's default for SIGHUP ended the process on the spot.
    gw.proc.kill('SIGHUP');
    await new Promise((r) => setTimeout(r, 500));
    expect(gw.proc.exitCode).toBeNull();
    expect(gw.proc.signalCode).toBeNull();
    expect((await fetch(`${gw.url}/readyz`)).status).toBe(200);
  });
});

describe('SIGTERM during calls', () => {
  it('drains in-flight calls, loses no audit event and ends with a final checkpoint covering every event', async () => {
    const dir = tmpDir('mcpw-drain-');
    const db = path.join(dir, 'audit.db');
    const gw = await startServe(`servers:
  everything: { command: ${JSON.stringify(NODE)}, args: [${JSON.stringify(EVERYTHING)}, stdio] }
policy: [${JSON.stringify(ALLOW_ALL)}]
audit: { db: ${JSON.stringify(db)}, signing_key: ${JSON.stringify(path.join(dir, 'signing.key'))}, anchor: ${JSON.stringify(path.join(dir, 'anchor'))} }
pins: false
`);
    const clients = await Promise.all([0, 1, 2, 3, 4].map(() => connectClient('v1', { kind: 'http', url: `${gw.url}/everything/mcp` })));
    const calls = clients.map((c, i) => c.callTool('trigger-long-running-operation', { duration: 1.5, steps: 3 }).then((r) => ({ ok: true, i, r }), (e: Error) => ({ ok: false, i, e: e.message })));
    await new Promise((r) => setTimeout(r, 400));
    const exit = gw.stop('SIGTERM');
    const results = await Promise.all(calls);
    expect(await exit).toBe(0);
    for (const r of results) expect(r).toMatchObject({ ok: true });
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));

    const d = new Database(db, { readonly: true });
    try {
      const done = d.prepare(`SELECT count(*) AS n FROM events WHERE method = 'tools/call' AND target = 'trigger-long-running-operation' AND status = 'ok'`).get() as { n: number };
      expect(done.n).toBe(5);
      const ends = d.prepare(`SELECT count(*) AS n FROM events WHERE event = 'session_end'`).get() as { n: number };
      expect(ends.n).toBe(5);
      const last = d.prepare(`SELECT max(seq) AS seq FROM events`).get() as { seq: number };
      const cp = d.prepare(`SELECT max(seq) AS seq FROM checkpoints`).get() as { seq: number };
      expect(cp.seq).toBe(last.seq);
    } finally {
      d.close();
    }
    const verify = spawnSync(NODE, [CLI, 'audit', 'verify', '--db', db, '--key', path.join(dir, 'signing.key'), '--anchor', path.join(dir, 'anchor')], { env: isolatedEnv(), encoding: 'utf8' });
    expect(verify.status, verify.stdout + verify.stderr).toBe(0);
  });
});

describe('idle sessions (idle_timeout_s)', () => {
  it('are reaped with their child; a client holding its GET stream or its WebSocket open is not idle', async () => {
    const dir = tmpDir('mcpw-idle-');
    const db = path.join(dir, 'audit.db');
    const gw = await startServe(`servers:\n  demo:\n    command: ${JSON.stringify(NODE)}\n    args: [${JSON.stringify(DEMO)}]\n    idle_timeout_s: 1\npolicy: [${JSON.stringify(ALLOW_ALL)}]\naudit: { db: ${JSON.stringify(db)} }\n`);
    const ep = `${gw.url}/demo/mcp`;
    const headers = (sid?: string): Record<string, string> => ({ 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18', ...(sid ? { 'mcp-session-id': sid } : {}) });
    const post = async (sid: string | undefined, body: Record<string, unknown>): Promise<{ status: number; sid: string | null; text: string }> => {
      const r = await fetch(ep, { method: 'POST', headers: headers(sid), body: JSON.stringify({ jsonrpc: '2.0', ...body }) });
      return { status: r.status, sid: r.headers.get('mcp-session-id'), text: await r.text() };
    };
    const open = async (): Promise<string> => {
      const { sid } = await post(undefined, { id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'idle', version: '1' } } });
      await post(sid!, { method: 'notifications/initialized' });
      return sid!;
    };
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const ctl = new AbortController();
    const ws = new WebSocket(`${gw.url.replace('http', 'ws')}/demo/ws`, ['mcp'], { perMessageDeflate: false });
    const wsOpen = new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const wsClosed = new Promise<number>((resolve) => ws.on('close', (code: number) => resolve(code)));
    let quiet: string | undefined;
    let listening: string | undefined;
    try {
      quiet = await open();
      listening = await open();
      const stream = await fetch(ep, { headers: { accept: 'text/event-stream', 'mcp-session-id': listening, 'mcp-protocol-version': '2025-06-18' }, signal: ctl.signal });
      expect(stream.status).toBe(200);
      void stream.body!.pipeTo(new WritableStream()).catch(() => undefined);
      await wsOpen;
      const wsAnswer = new Promise<Record<string, unknown>>((resolve) => ws.once('message', (d: Buffer) => resolve(JSON.parse(d.toString()) as Record<string, unknown>)));
      ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'ws', version: '1' } } }));
      expect((await wsAnswer)['result']).toBeDefined();
      ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
      // Three idle timeouts of quiet on every session.
      await sleep(3_000);
      expect((await post(quiet, { id: 2, method: 'tools/list' })).status).toBe(404);
      // The reaped session's child is ended; the listening one's runs.
      const pidOf = new Map(auditEvents(db, { event: 'session_start' }).map((e) => [e.session, JSON.parse(e.extra ?? '{}')['pid'] as number]));
      expect(pidOf.size).toBe(3);
      expect(await gone([pidOf.get(quiet)!])).toEqual([]);
      expect(await gone([pidOf.get(listening)!], 0)).toEqual([pidOf.get(listening)]);
      // The client that holds its GET stream is waiting for the server's notifications: still there (it used to be reaped too).
      const kept = await post(listening, { id: 2, method: 'tools/list' });
      expect(kept.status).toBe(200);
      expect(kept.text).toContain('"tools"');
      const wsList = new Promise<Record<string, unknown>>((resolve) => ws.once('message', (d: Buffer) => resolve(JSON.parse(d.toString()) as Record<string, unknown>)));
      ws.send(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }));
      expect((await wsList)['result']).toMatchObject({ tools: expect.any(Array) });
      // Its stream closed, the listening session goes too.
      ctl.abort();
      await sleep(3_000);
      expect((await post(listening, { id: 3, method: 'tools/list' })).status).toBe(404);
      ws.close(1000);
      expect(await wsClosed).toBe(1000);
    } finally {
      ctl.abort();
      ws.terminate();
      await gw.stop();
    }
    // Every session's end is recorded, the WebSocket's too though the gateway was stopped while it was closing (its
    // session_end was lost: a second close returned at once, and the gateway exited before the first had finished).
    // Which close comes first is a race (the client has its close frame before the gateway has seen the socket end), so
    // the WebSocket's session ends for either reason; what must not happen is that it has no end at all.
    const ends = auditEvents(db, { event: 'session_end' });
    const wsSession = auditEvents(db, { event: 'session_start' }).find((e) => e.session !== quiet && e.session !== listening)?.session;
    expect(ends.filter((e) => e.reason === 'idle timeout').map((e) => e.session).sort()).toEqual([quiet, listening].sort());
    const wsEnds = ends.filter((e) => e.session === wsSession).map((e) => e.reason);
    expect(wsEnds).toHaveLength(1);
    expect(['client closed the WebSocket', 'gateway shutting down']).toContain(wsEnds[0]);
    expect(ends).toHaveLength(3);
  });
});
