/**
 * Issue 6, done-when 1: a scripted session through wrap and through serve produces the expected events, count and
 * fields, for every kind: exchanges (ok, error, timeout), notifications both ways, server-initiated requests, bad
 * input, session start and end, upstream spawn and crash. (Denials, authentication failures, policy reloads and pin
 * violations are checked where those stages are tested.)
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/audit/chain.js';
import { AuditStore } from '../../src/audit/store.js';
import { verifyStore } from '../../src/audit/verify.js';
import { loadOrCreateKey } from '../../src/audit/keys.js';
import { NOTIFICATION_BURST } from '../../src/audit/stage.js';
import { AuditWriter, blankEvent } from '../../src/audit/writer.js';
import { silentLogger } from '../../src/log/logger.js';
import { connectClient } from '../helpers/clients.js';
import { ALLOW_ALL, CLI, isolatedEnv, NODE, ROOT, startServe, tmpDir, writeConfig, wrapArgs } from '../helpers/cli.js';
import { RawStdio, text } from '../helpers/raw.js';
import { auditEvents as events } from '../helpers/audit.js';

const FAULT = path.join(ROOT, 'test/fixtures/fault-server.mjs');
const BENCH_UPSTREAM = path.join(ROOT, 'bench/upstream.mjs');
const DUAL = path.join(ROOT, 'test/fixtures/dual-era-server.mjs');

function verified(db: string): boolean {
  const store = new AuditStore(db, { readonly: true });
  try {
    return verifyStore(store, { key: loadOrCreateKey(path.join(path.dirname(db), 'audit-signing.key')), anchorFile: `${db}.anchor` }).ok;
  } finally {
    store.close();
  }
}

const extra = (e: StoredEvent) => JSON.parse(e.extra ?? '{}') as Record<string, unknown>;

describe('audit events through wrap', () => {
  it('records every kind of event with its fields', async () => {
    const dir = tmpDir('mcpw-ae-');
    const db = path.join(dir, 'audit.db');
    const cfg = writeConfig(`limits:\n  request_timeout_s: 1\naudit:\n  db: ${db}\nlocal_identity:\n  sub: "local:auditor"\n`);
    const peer = new RawStdio(NODE, wrapArgs('--config', cfg, '--name', 'faulty', '--', NODE, FAULT), isolatedEnv());
    await peer.initialize();
    expect(text(await peer.call(1, 'echo', { text: 'hello' }))).toBe('echo: hello');
    expect((await peer.request(2, 'no/such/method')).error?.code).toBe(-32601);
    expect((await peer.call(3, 'hang')).error?.code).toBe(-32001);
    peer.write('{"jsonrpc":"2.0","id":4,"method":\n');
    await peer.waitFor((m) => m.error?.code === -32700);
    const pid = Number(text(await peer.call(5, 'pid')));
    const crash = peer.call(6, 'hang');
    await new Promise((r) => setTimeout(r, 200));
    process.kill(pid, 'SIGKILL');
    expect((await crash).error?.code).toBe(-32011);
    expect(text(await peer.call(7, 'echo', { text: 'after restart' }))).toBe('echo: after restart');
    // A number JavaScript cannot hold is recorded as the caller wrote it (the call the server got).
    peer.write('{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"echo","arguments":{"text":"n","account":12345678901234567891}}}\n');
    await peer.waitFor((m) => m.id === 8);
    expect(await peer.close()).toBe(0);

    const ev = events(db);
    const kinds = ev.map((e) => e.event);
    expect(kinds[0]).toBe('session_start');
    expect(kinds[kinds.length - 1]).toBe('session_end');
    const byMethodTarget = (m: string, t?: string) => ev.filter((e) => e.event === 'exchange' && e.method === m && (t === undefined || e.target === t));
    const echo = byMethodTarget('tools/call', 'echo')[0]!;
    expect(echo).toMatchObject({ server: 'faulty', principal_sub: 'local:auditor', status: 'ok', decision: 'allow', args: '{"text":"hello"}' });
    expect(echo.policy_version).toMatch(/^[0-9a-f]{16}$/);
    expect(echo.latency_ms).toBeGreaterThan(0);
    expect(echo.bytes_in).toBeGreaterThan(50);
    expect(echo.bytes_out).toBeGreaterThan(30);
    expect(echo.args_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(echo.result_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(extra(echo)).toMatchObject({ direction: 'to-server', transport: 'stdio', era: 'legacy' });
    expect(byMethodTarget('no/such/method')[0]).toMatchObject({ status: 'error', reason: 'Method not found: no/such/method' });
    expect(extra(byMethodTarget('no/such/method')[0]!)).toMatchObject({ error_code: -32601 });
    expect(byMethodTarget('tools/call', 'hang').map((e) => e.status).sort()).toEqual(['failed', 'timeout']);
    expect(byMethodTarget('initialize')[0]).toMatchObject({ status: 'ok' });
    expect(ev.find((e) => e.event === 'notification' && e.method === 'notifications/initialized')).toMatchObject({ status: 'ok' });
    expect(ev.find((e) => e.event === 'bad_input')).toMatchObject({ reason: 'Parse error: invalid JSON' });
    expect(ev.find((e) => e.event === 'upstream_crash')).toMatchObject({ reason: 'exited on SIGKILL' });
    expect(ev.find((e) => e.event === 'upstream_spawn')).toBeTruthy();
    // Argument values are stored only in `args`, after the redactor (capture: redacted), never anywhere else.
    const leaked = ev.filter((e) => JSON.stringify({ ...e, args: null }).includes('after restart'));
    expect(leaked).toEqual([]);
    expect(ev.some((e) => e.args === '{"text":"after restart"}')).toBe(true);
    expect(ev.find((e) => e.args?.includes('account'))!.args).toBe('{"account":12345678901234567891,"text":"n"}');
    expect(verified(db)).toBe(true);
  });

  it("result_sha256 is the hash of the line the client received: its id, the server's bytes or the rewritten text", async () => {
    const dir = tmpDir('mcpw-ae-');
    const db = path.join(dir, 'audit.db');
    const cfg = writeConfig(`audit:\n  db: ${db}\n`);
    const peer = new RawStdio(NODE, wrapArgs('--config', cfg, '--', NODE, BENCH_UPSTREAM, 'stdio'), isolatedEnv());
    await peer.initialize();
    // A short answer (text), a long one passed on untouched (the server's bytes, the id spliced) and a long one the
    // redaction rewrote (new text): each under an id the proxy replaces on its way to the server.
    expect(text(await peer.call('short-1', 'echo', { text: 'hello' }))).toBe('hello');
    expect(text(await peer.call('kept-2', 'blob', { bytes: 65_536 })).length).toBe(65_536);
    expect(text(await peer.call('masked-3', 'blob', { bytes: 65_536, dirty: true }))).toContain('[REDACTED:');
    expect(await peer.close()).toBe(0);
    const sha = (t: string) => createHash('sha256').update(t).digest('hex');
    const received = (id: string) => peer.lines.find((l) => l.includes(`"id":"${id}"`))!;
    const calls = events(db).filter((e) => e.event === 'exchange' && e.method === 'tools/call');
    expect(calls.map((e) => e.target)).toEqual(['echo', 'blob', 'blob']);
    expect(calls.map((e) => e.result_sha256)).toEqual(['short-1', 'kept-2', 'masked-3'].map((id) => sha(received(id))));
  });

  it('args_sha256 is keyed: it gives away no masked argument, and `audit args-hash` finds it where the key is', async () => {
    const dir = tmpDir('mcpw-ae-');
    const db = path.join(dir, 'audit.db');
    const cfg = writeConfig(`audit:\n  db: ${db}\n`);
    const peer = new RawStdio(NODE, wrapArgs('--config', cfg, '--', NODE, FAULT), isolatedEnv());
    await peer.initialize();
    const ssn = { text: 'SSN 536-22-8145' };
    expect(text(await peer.call(1, 'echo', ssn))).toBe('echo: SSN [REDACTED:us-ssn]');
    peer.write('{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"n","account":12345678901234567891}}}\n');
    await peer.waitFor((m) => m.id === 2);
    expect(await peer.close()).toBe(0);
    const [masked, long] = events(db).filter((e) => e.event === 'exchange' && e.method === 'tools/call');
    expect(masked!.args).toBe('{"text":"SSN [REDACTED:us-ssn]"}');
    // A plain SHA-256 of the arguments beside their masked copy: trying the 10^9 possible numbers would find it.
    const plain = (t: string) => createHash('sha256').update(t).digest('hex');
    expect(masked!.args_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(masked!.args_sha256).not.toBe(plain('{"text":"SSN 536-22-8145"}'));
    const argsHash = (json: string) => spawnSync(NODE, [CLI, 'audit', 'args-hash', '--db', db, json], { encoding: 'utf8', env: isolatedEnv() });
    const r = argsHash(JSON.stringify(ssn));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(masked!.args_sha256);
    expect(argsHash('{"text":"SSN 536-22-8146"}').stdout.trim()).not.toBe(masked!.args_sha256);
    // Numbers count as the caller wrote them; key order does not matter.
    expect(argsHash('{"account":12345678901234567891,"text":"n"}').stdout.trim()).toBe(long!.args_sha256);
    expect(argsHash('{"account":12345678901234567892,"text":"n"}').stdout.trim()).not.toBe(long!.args_sha256);
    const bad = argsHash('{"text":');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('not JSON');
  });

  it('keeps a method and a target the peer made huge to a bounded length, masked before they are cut', async () => {
    const dir = tmpDir('mcpw-ae-');
    const db = path.join(dir, 'audit.db');
    const cfg = writeConfig(`audit:\n  db: ${db}\n`);
    const peer = new RawStdio(NODE, wrapArgs('--config', cfg, '--name', 'faulty', '--', NODE, FAULT), isolatedEnv());
    await peer.initialize();
    const mib = 'x'.repeat(1 << 20);
    // A token that crosses the 2,048th character of the URI: cut first, its head would no longer look like one.
    const token = ['ghp', '_', 'Rk7dW2pQ9sLx4Vb8Nc3Jm6Hf1Tg5Yz0AeUqK'].join('');
    const uri = `https://files.example/${'a'.repeat(2005)}?t=${token}&pad=${mib}`;
    await peer.request(1, 'resources/read', { uri });
    await peer.call(2, `tool_${mib}`);
    await peer.request(3, `x/${mib}`);
    peer.write(`${JSON.stringify({ jsonrpc: '2.0', method: `notifications/${mib}` })}\n`);
    expect(text(await peer.call(4, 'echo', { text: 'still here' }))).toBe('echo: still here');
    expect(await peer.close()).toBe(0);

    const ev = events(db);
    for (const e of ev) {
      expect(e.method?.length ?? 0, e.event).toBeLessThan(300);
      expect(e.target?.length ?? 0, e.event).toBeLessThan(2100);
      expect(e.reason?.length ?? 0, e.event).toBeLessThan(550);
    }
    const read = ev.find((e) => e.method === 'resources/read')!;
    expect(read.target).toBe(`${uri.slice(0, 2030)}[REDACTED:github-p…[truncated ${uri.length} chars]`);
    expect(JSON.stringify(ev)).not.toContain('ghp_Rk7');
    expect(ev.find((e) => e.method === 'tools/call' && e.target?.startsWith('tool_x'))!.target).toMatch(/^tool_x{2043}…\[truncated 1048581 chars\]$/);
    expect(ev.find((e) => e.event === 'exchange' && e.method?.startsWith('x/x'))!.method).toMatch(/^x\/x{254}…\[truncated 1048578 chars\]$/);
    expect(ev.find((e) => e.event === 'notification' && e.method?.startsWith('notifications/x'))!.method).toMatch(/…\[truncated 1048590 chars\]$/);
    expect(verified(db)).toBe(true);
  });

  it('masks a token and a connection string\'s password on the server\'s command line, in the log and the trail', async () => {
    const dir = tmpDir('mcpw-ae-');
    const db = path.join(dir, 'audit.db');
    const cfg = writeConfig(`audit:\n  db: ${db}\n`);
    const token = ['ghp', '_', 'Rk7dW2pQ9sLx4Vb8Nc3Jm6Hf1Tg5Yz0AeUqK'].join('');
    const password = ['S3cret', 'Passw0rd'].join('');
    // As people pass them: `server-postgres postgresql://user:password@host/db`, `--token=…`.
    const peer = new RawStdio(NODE, wrapArgs('--config', cfg, '--name', 'faulty', '--', NODE, FAULT, `--token=${token}`, `postgresql://admin:${password}@db.example/app`), isolatedEnv({ MCP_WARDEN_LOG_LEVEL: 'info' }));
    await peer.initialize();
    expect(text(await peer.call(1, 'echo', { text: 'hi' }))).toBe('echo: hi');
    expect(await peer.close()).toBe(0);
    const start = events(db).find((e) => e.event === 'session_start')!;
    expect(extra(start)['upstream']).toBe(`${NODE} ${FAULT} --token=[REDACTED:github-pat] postgresql://admin:[REDACTED:postgres-url-password]@db.example/app`);
    // Which config governed the session, and how it was found (--config here; MCP_WARDEN_CONFIG would say env).
    expect(extra(start)).toMatchObject({ config: cfg, config_from: 'flag' });
    const viaEnv = new RawStdio(NODE, wrapArgs('--name', 'faulty', '--', NODE, FAULT), isolatedEnv({ MCP_WARDEN_CONFIG: cfg }));
    await viaEnv.initialize();
    expect(await viaEnv.close()).toBe(0);
    expect(extra(events(db).filter((e) => e.event === 'session_start')[1]!)).toMatchObject({ config: cfg, config_from: 'env' });
    expect(peer.stderr).toContain('"msg":"wrapping"');
    expect(peer.stderr).toContain('--token=[REDACTED:github-pat]');
    for (const where of [JSON.stringify(events(db)), peer.stderr]) {
      expect(where).not.toContain(token);
      expect(where).not.toContain(password);
    }
  });

  it('records server-initiated requests and their answers, and server notifications', async () => {
    const dir = tmpDir('mcpw-ae-');
    const db = path.join(dir, 'audit.db');
    const cfg = writeConfig(`audit:\n  db: ${db}\npolicy: [${JSON.stringify(ALLOW_ALL)}]\n`);
    const c = await connectClient('v1', { kind: 'stdio', command: NODE, args: wrapArgs('--config', cfg, '--', NODE, DUAL, 'stdio'), env: isolatedEnv() });
    const progress: number[] = [];
    await c.callTool('test_sampling', { prompt: 'hi' });
    await c.callTool('test_tool_with_progress', {}, { onprogress: (p) => progress.push(p.progress) });
    await c.callTool('test_tool_with_logging', {});
    await c.close();
    const ev = events(db);
    const sampling = ev.find((e) => e.event === 'server_request' && e.method === 'sampling/createMessage')!;
    expect(sampling).toMatchObject({ status: 'ok', server: 'dual-era-server' });
    expect(extra(sampling)).toMatchObject({ direction: 'to-client' });
    expect(ev.filter((e) => e.event === 'notification' && e.method === 'notifications/progress').length).toBeGreaterThanOrEqual(2);
    expect(ev.filter((e) => e.event === 'notification' && e.method === 'notifications/message').length).toBe(3);
    expect(extra(ev.find((e) => e.method === 'notifications/message')!)).toMatchObject({ direction: 'to-client' });
    expect(verified(db)).toBe(true);
  });
});

describe('audit events through serve', () => {
  it('records sessions, exchanges, bad input and the principal', async () => {
    const dir = tmpDir('mcpw-ae-');
    const db = path.join(dir, 'audit.db');
    const gw = await startServe(`servers:\n  dual:\n    command: ${JSON.stringify(NODE)}\n    args: [${JSON.stringify(DUAL)}, stdio]\naudit:\n  db: ${db}\n`);
    const url = `${gw.url}/dual/mcp`;
    const legacy = await connectClient('v1', { kind: 'http', url });
    await legacy.callTool('echo', { message: 'legacy' });
    await legacy.close();
    const modern = await connectClient('v2', { kind: 'http', url }, { negotiation: 'auto' });
    await modern.callTool('echo', { message: 'modern' });
    await modern.close();
    const bad = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: '{"jsonrpc":' });
    expect(bad.status).toBe(400);
    expect(await gw.stop()).toBe(0);
    const ev = events(db);
    const calls = ev.filter((e) => e.event === 'exchange' && e.target === 'echo');
    expect(calls).toHaveLength(2);
    expect(calls.map((e) => extra(e)['era']).sort()).toEqual(['legacy', 'modern']);
    for (const e of calls) expect(e).toMatchObject({ principal_sub: 'anonymous', server: 'dual', status: 'ok' });
    expect(calls.every((e) => extra(e)['transport'] === 'http')).toBe(true);
    expect(ev.filter((e) => e.event === 'session_start').length).toBeGreaterThanOrEqual(2);
    expect(ev.filter((e) => e.event === 'session_end').length).toBe(ev.filter((e) => e.event === 'session_start').length);
    expect(ev.find((e) => e.event === 'bad_input')).toMatchObject({ server: 'dual', reason: 'Parse error: invalid JSON' });
    expect(verified(db)).toBe(true);
  });
});

describe('a flood of notifications', () => {
  it('is written one by one up to a burst per window, then as one counted event: the trail does not grow with it', async () => {
    const dir = tmpDir('mcpw-notes-');
    const db = path.join(dir, 'audit.db');
    const cfg = writeConfig(`audit:\n  db: ${db}\n`);
    // Each echo is preceded by 2,000 log notifications (100,000 made 100,000 rows, 44 MB).
    const peer = new RawStdio(NODE, wrapArgs('--config', cfg, '--', NODE, FAULT), isolatedEnv({ FAULT_NOTIFY: '2000' }));
    await peer.initialize();
    expect(text(await peer.call(1, 'echo', { text: 'a' }))).toBe('echo: a');
    expect(text(await peer.call(2, 'echo', { text: 'b' }))).toBe('echo: b');
    expect(peer.received.filter((m) => m.method === 'notifications/message').length).toBe(4000);
    expect(await peer.close()).toBe(0);
    const notes = events(db).filter((e) => e.event === 'notification' && e.method === 'notifications/message');
    const one = notes.filter((e) => !extra(e)['aggregated']);
    const counted = notes.filter((e) => extra(e)['aggregated']);
    expect(one).toHaveLength(NOTIFICATION_BURST);
    expect(counted).toHaveLength(1);
    expect(extra(counted[0]!)).toMatchObject({ aggregated: true, count: 4000 - NOTIFICATION_BURST, statuses: { ok: 4000 - NOTIFICATION_BURST }, direction: 'to-client' });
    expect(counted[0]!.bytes_in).toBeGreaterThan(50 * (4000 - NOTIFICATION_BURST));
    expect(verified(db)).toBe(true);
  });

  it('adds up what the counted events held: statuses, redactions and bytes, nothing of one alone', async () => {
    const dir = tmpDir('mcpw-agg-');
    const store = new AuditStore(path.join(dir, 'audit.db'));
    const writer = new AuditWriter(store, loadOrCreateKey(path.join(dir, 'k.pem')), { onFailure: 'deny', checkpointEvery: 1000, checkpointIntervalMs: 60_000, idleCheckpointMs: 60_000, anchorFile: undefined, log: silentLogger() });
    const note = (i: number, status: string, redactions: string | null) => ({ ...blankEvent('notification'), session: 's1', method: 'notifications/progress', status, redactions, bytes_in: 10, args: `{"i":${i}}`, target: i === 3 ? 'other' : 'token-1', rule: 'r' });
    writer.aggregate('k', note(0, 'ok', null), 60_000, 10, 2);
    writer.aggregate('k', note(1, 'ok', '{"email":1}'), 60_000, 10, 2);
    writer.aggregate('k', note(2, 'ok', '{"email":2}'), 60_000, 10, 2);
    writer.aggregate('k', note(3, 'dropped', '{"email":1,"github-pat":1}'), 60_000, 10, 2);
    writer.aggregate('k', note(4, 'ok', null), 60_000, 10, 2);
    // Past maxKeys (here 1), every new source goes into one overflow event, which keeps its own reason.
    writer.aggregate('a', { ...blankEvent('auth_failure'), reason: 'bad token from a' }, 60_000, 1);
    writer.aggregate('b', { ...blankEvent('auth_failure'), reason: 'bad token from b' }, 60_000, 1);
    await writer.close();
    const ro = new AuditStore(path.join(dir, 'audit.db'), { readonly: true });
    const rows = [...ro.iterate()];
    ro.close();
    expect(rows.map((r) => r.args)).toEqual(['{"i":0}', '{"i":1}', null, null]);
    const sum = rows.find((r) => r.event === 'notification' && r.args === null)!;
    const overflow = rows.find((r) => r.event === 'auth_failure')!;
    expect(overflow.reason).toBe('too many distinct sources; aggregated');
    expect(JSON.parse(overflow.extra!)).toMatchObject({ aggregated: true, count: 2 });
    expect(JSON.parse(sum.redactions!)).toEqual({ email: 3, 'github-pat': 1 });
    expect(JSON.parse(sum.extra!)).toMatchObject({ aggregated: true, count: 3, statuses: { dropped: 1, ok: 2 } });
    expect(sum.bytes_in).toBe(30);
    expect(sum.latency_ms).toBeNull();
    // What all of them shared is kept; what one of them did not share is left empty.
    expect(sum.rule).toBe('r');
    expect(sum.target).toBeNull();
  });
});
