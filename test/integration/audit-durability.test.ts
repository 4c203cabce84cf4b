/**
 * Issue 6, done-when 2, 3 and 5: the audit trail under crashes, concurrency and a full disk.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/audit/chain.js';
import { loadOrCreateKey } from '../../src/audit/keys.js';
import { query } from '../../src/audit/read.js';
import { AuditStore, CHECKPOINT_PAGES } from '../../src/audit/store.js';
import { argsHash } from '../../src/audit/stage.js';
import { verifyStore } from '../../src/audit/verify.js';
import { blankEvent } from '../../src/audit/writer.js';
import { CLI, isolatedEnv, NODE, ROOT, tmpDir, writeConfig, wrapArgs } from '../helpers/cli.js';
import { RawStdio, type RawMessage } from '../helpers/raw.js';

const UPSTREAM = path.join(ROOT, 'bench/upstream.mjs');

function openDb(db: string): { store: AuditStore; verify: () => ReturnType<typeof verifyStore> } {
  const store = new AuditStore(db, { readonly: true });
  return { store, verify: () => verifyStore(store, { key: loadOrCreateKey(path.join(path.dirname(db), 'audit-signing.key')), anchorFile: `${db}.anchor` }) };
}

/** Keeps `inflight` echo calls going until stopped; collects every answer. */
function load(peer: RawStdio, prefix: string, inflight: number): { stop: () => void; answers: Map<string, RawMessage>; sent: () => number } {
  const answers = new Map<string, RawMessage>();
  let n = 0;
  let stopped = false;
  const fire = () => {
    if (stopped) return;
    const id = `${prefix}-${n++}`;
    peer.send({ id, method: 'tools/call', params: { name: 'echo', arguments: { text: id } } });
    void peer.reply(id, 60_000).then(
      (m) => {
        answers.set(id, m);
        fire();
      },
      () => undefined,
    );
  };
  for (let i = 0; i < inflight; i++) fire();
  return { stop: () => (stopped = true), answers, sent: () => n };
}

describe('the audit trail survives a crash of the proxy', () => {
  it('every response the client received has its event, and verify passes', async () => {
    const dir = tmpDir('mcpw-crash-');
    const db = path.join(dir, 'audit.db');
    const cfg = writeConfig(`audit:\n  db: ${db}\n`);
    const peer = new RawStdio(NODE, wrapArgs('--config', cfg, '--', NODE, UPSTREAM, 'stdio'), isolatedEnv());
    await peer.initialize();
    const run = load(peer, 'c', 16);
    await new Promise((r) => setTimeout(r, 1500));
    peer.proc.kill('SIGKILL');
    await peer.exited;
    run.stop();
    const ok = [...run.answers].filter(([, m]) => m.result);
    expect(ok.length).toBeGreaterThan(200);

    const { store, verify } = openDb(db);
    const hashes = new Set(query(store, { event: 'exchange' }).map((e) => e.args_sha256));
    const { argsKey } = loadOrCreateKey(path.join(path.dirname(db), 'audit-signing.key'));
    const missing = ok.filter(([id]) => !hashes.has(argsHash(argsKey, canonicalJson({ text: id }))));
    expect(missing).toEqual([]);
    const v = verify();
    store.close();
    expect(v.ok).toBe(true);
  });
});

describe('audit.record_forwarded: a call is in the trail before it reaches the server', () => {
  const FAULT = path.join(ROOT, 'test/fixtures/fault-server.mjs');
  /** A call the server never answers, then SIGKILL: what the trail holds about it. */
  async function killedDuringCall(yaml: string): Promise<{ forwarded: ReturnType<typeof query>; exchanges: ReturnType<typeof query>; ok: boolean; argsSha: string }> {
    const dir = tmpDir('mcpw-fwd-');
    const db = path.join(dir, 'audit.db');
    const cfg = writeConfig(`audit:\n  db: ${db}\n${yaml}`);
    const peer = new RawStdio(NODE, wrapArgs('--config', cfg, '--', NODE, FAULT), isolatedEnv());
    await peer.initialize();
    expect((await peer.request('e', 'tools/call', { name: 'echo', arguments: { text: 'first' } })).result).toBeDefined();
    peer.send({ id: 'h', method: 'tools/call', params: { name: 'hang', arguments: { note: 'delete the backups' } } });
    await new Promise((r) => setTimeout(r, 700));
    peer.proc.kill('SIGKILL');
    await peer.exited;
    const { store, verify } = openDb(db);
    const out = { forwarded: query(store, { event: 'forwarded' }), exchanges: query(store, { event: 'exchange' }), ok: verify().ok };
    store.close();
    const { argsKey } = loadOrCreateKey(path.join(dir, 'audit-signing.key'));
    return { ...out, argsSha: argsHash(argsKey, canonicalJson({ note: 'delete the backups' })) };
  }

  it('with it, a call at the server when the proxy is killed is recorded as forwarded; without it, not at all', async () => {
    const on = await killedDuringCall('  record_forwarded: true\n');
    expect(on.ok).toBe(true);
    const hang = on.forwarded.find((e) => e.target === 'hang');
    expect(hang, JSON.stringify(on.forwarded.map((e) => e.target))).toBeDefined();
    expect(hang).toMatchObject({ method: 'tools/call', decision: 'allow', status: null, latency_ms: null, bytes_out: null, result_sha256: null, args_sha256: on.argsSha });
    // The answered call has both events; only the exchange is a call for stats and reports.
    expect(on.forwarded.filter((e) => e.target === 'echo')).toHaveLength(1);
    expect(on.exchanges.filter((e) => e.target === 'echo')).toHaveLength(1);
    expect(on.exchanges.find((e) => e.target === 'hang')).toBeUndefined();

    const off = await killedDuringCall('');
    expect(off.ok).toBe(true);
    expect(off.forwarded).toEqual([]);
    expect([...off.exchanges].find((e) => e.target === 'hang')).toBeUndefined();
  });
});

describe('audit.record_forwarded when the store cannot take the event', () => {
  it('the call is refused before it reaches the server; without the option the server runs it and the trail has no record', async () => {
    const LENIENT = path.join(ROOT, 'test/fixtures/lenient-server.mjs');
    const run = async (yaml: string): Promise<{ error: RawMessage['error']; ran: string; recorded: number }> => {
      const dir = tmpDir('mcpw-fwd-full-');
      const ranLog = path.join(dir, 'ran.log');
      // A cap the small events fit under and a call's captured arguments (1.5 MB) do not.
      const cfg = writeConfig(`audit:\n  db: ${path.join(dir, 'audit.db')}\n  max_db_mb: 1\n  capture_max_bytes: 4000000\n${yaml}`);
      const peer = new RawStdio(NODE, wrapArgs('--config', cfg, '--', NODE, LENIENT), isolatedEnv({ LENIENT_LOG: ranLog }));
      await peer.initialize();
      const r = await peer.call('big', 'read_note', { text: 'y'.repeat(1_500_000) });
      await peer.close();
      const { readFileSync, existsSync } = await import('node:fs');
      const store = new AuditStore(path.join(dir, 'audit.db'), { readonly: true });
      const recorded = query(store, {}).filter((e) => e.target === 'read_note').length;
      store.close();
      return { error: r.error, ran: existsSync(ranLog) ? readFileSync(ranLog, 'utf8') : '', recorded };
    };
    const on = await run('  record_forwarded: true\n');
    expect(on.error?.code).toBe(-32013);
    expect(on.ran).not.toContain('ran read_note');
    const off = await run('');
    expect(off.error?.code).toBe(-32013);
    expect(off.ran).toContain('ran read_note');
    expect(off.recorded).toBe(0);
  });
});

describe('two wrap processes share one database', () => {
  it('append under load at the same time, and the chain verifies', async () => {
    const dir = tmpDir('mcpw-multi-');
    const db = path.join(dir, 'audit.db');
    const cfg = writeConfig(`audit:\n  db: ${db}\n  checkpoint:\n    every_events: 200\n`);
    const peers = [0, 1].map(() => new RawStdio(NODE, wrapArgs('--config', cfg, '--', NODE, UPSTREAM, 'stdio'), isolatedEnv()));
    await Promise.all(peers.map((p) => p.initialize()));
    const runs = peers.map((p, i) => load(p, `p${i}`, 8));
    await new Promise((r) => setTimeout(r, 2500));
    for (const r of runs) r.stop();
    await new Promise((r) => setTimeout(r, 500));
    for (const p of peers) expect(await p.close()).toBe(0);
    const answered = runs.reduce((n, r) => n + [...r.answers.values()].filter((m) => m.result).length, 0);
    expect(answered).toBeGreaterThan(500);

    const { store, verify } = openDb(db);
    const ex = query(store, { event: 'exchange', tool: 'echo' });
    const v = verify();
    store.close();
    expect(ex.length).toBeGreaterThanOrEqual(answered);
    // Both processes' events interleave in one chain.
    const sessions = new Set(ex.map((e) => e.session));
    expect(sessions.size).toBe(2);
    expect(v).toMatchObject({ ok: true });
    expect(v.checkpoints).toBeGreaterThan(2);
  });
});

describe('the WAL is copied back into the database off the commit path', () => {
  it('no commit waits for a checkpoint, and the checkpoint comes soon after', async () => {
    const dir = tmpDir('mcpw-wal-');
    const db = path.join(dir, 'audit.db');
    const key = loadOrCreateKey(path.join(dir, 'audit-signing.key'));
    const store = new AuditStore(db);
    const size = () => statSync(db).size;
    const start = size();
    // One event per commit, as a proxy answering one call at a time writes them: past the threshold several times.
    let grewInCommit = 0;
    let grewLater = 0;
    for (let i = 0; i < 3 * CHECKPOINT_PAGES; i++) {
      const before = size();
      store.append([{ ...blankEvent('exchange'), target: `call ${i}`, args: JSON.stringify({ n: i, pad: 'x'.repeat(300) }) }], key);
      // SQLite's automatic checkpoint copied the WAL into the database inside the commit that crossed its threshold.
      if (size() !== before) grewInCommit++;
      if (i % 100 === 99) {
        const s = size();
        await new Promise((r) => setTimeout(r, 20));
        if (size() !== s) grewLater++;
      }
    }
    for (let t = 0; t < 100 && size() === start; t++) await new Promise((r) => setTimeout(r, 20));
    expect(grewInCommit).toBe(0);
    expect(grewLater).toBeGreaterThan(0);
    expect(size()).toBeGreaterThan(start + 3 * CHECKPOINT_PAGES * 100);
    const v = verifyStore(store, { key });
    store.close();
    expect(v).toMatchObject({ ok: true, events: 3 * CHECKPOINT_PAGES });
  });
});

describe('a store that cannot write refuses new calls', () => {
  it('a full disk (file-size limit): calls are refused with a clear error, and the proxy stays up', async () => {
    const dir = tmpDir('mcpw-full-');
    const db = path.join(dir, 'audit.db');
    const cfg = writeConfig(`audit:\n  db: ${db}\n`);
    // 2048 blocks of 512 bytes (dash) = 1 MiB: the WAL outgrows it within a few hundred commits.
    const cmd = `ulimit -f 2048; exec ${NODE} ${CLI} wrap --config ${cfg} -- ${NODE} ${UPSTREAM} stdio`;
    const peer = new RawStdio('sh', ['-c', cmd], isolatedEnv());
    await peer.initialize();
    let refused: RawMessage | undefined;
    for (let i = 0; i < 3000 && !refused; i++) {
      const r = await peer.call(i, 'echo', { text: `fill ${i} ${'x'.repeat(200)}` });
      if (r.error) refused = r;
    }
    expect(refused?.error?.code).toBe(-32013);
    expect(refused?.error?.message).toMatch(/could not record this call in its audit trail \((database or disk is full|disk I\/O error)\)/);
    // Later calls are refused at once (fail closed), and the process is still answering.
    const again = await peer.call('after', 'echo', { text: 'again' });
    expect(again.error?.code).toBe(-32013);
    expect(again.error?.message).toMatch(/cannot write its audit trail \((database or disk is full|disk I\/O error)\); calls are refused until it can/);
    expect(peer.proc.exitCode).toBeNull();
    await peer.close();
  });
});
