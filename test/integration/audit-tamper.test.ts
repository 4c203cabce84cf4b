/**
 * Issue 6, done-when 4: each kind of tampering makes `audit verify` fail and name the first bad event; an
 * attacker holding the signing key and the anchor file is caught only by the off-machine copy (shown with a real
 * syslog receiver).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { beforeEach, describe, expect, it } from 'vitest';
import { chainHash, checkpointNote, eventMac, type StoredEvent } from '../../src/audit/chain.js';
import { loadOrCreateKey, signNote } from '../../src/audit/keys.js';
import { SyslogSink } from '../../src/audit/sink.js';
import { AuditStore } from '../../src/audit/store.js';
import { verifyStore } from '../../src/audit/verify.js';
import { blankEvent, AuditWriter } from '../../src/audit/writer.js';
import { silentLogger } from '../../src/log/logger.js';
import { CLI, NODE, tmpDir } from '../helpers/cli.js';
import { syslogReceiver } from '../helpers/syslog.js';

interface Log {
  dir: string;
  db: string;
  keyFile: string;
  anchor: string;
}

/** Writes `n` events, a second apart in time and ending now, with checkpoints every 10 through the real writer. */
async function makeLog(n: number, sink?: SyslogSink): Promise<Log> {
  const dir = tmpDir('mcpw-tamper-');
  // The default names next to the database, so the CLI finds the key and the anchor from --db alone.
  const log: Log = { dir, db: path.join(dir, 'audit.db'), keyFile: path.join(dir, 'audit-signing.key'), anchor: path.join(dir, 'audit.db.anchor') };
  const key = loadOrCreateKey(log.keyFile);
  const store = new AuditStore(log.db);
  const writer = new AuditWriter(store, key, { onFailure: 'deny', checkpointEvery: 10, checkpointIntervalMs: 60_000, idleCheckpointMs: 60_000, anchorFile: log.anchor, sink, log: silentLogger() });
  const start = Date.now() - n * 1000;
  for (let i = 1; i <= n; i++) {
    // A second apart: the prune tests cut between two events by time, and events written within one millisecond
    // (a fast machine) share a timestamp, so `--before` the ts of #11 removed nothing and no prune record was made.
    const e = blankEvent('exchange', start + i * 1000);
    e.server = 'files';
    e.method = 'tools/call';
    e.target = `tool_${i}`;
    e.status = 'ok';
    e.latency_ms = i / 10;
    await writer.enqueue(e);
  }
  await writer.close();
  return log;
}

function verifyCli(log: Log, ...extra: string[]): { code: number; out: string } {
  const r = spawnSync(NODE, [CLI, 'audit', 'verify', '--db', log.db, '--key', log.keyFile, '--anchor', log.anchor, ...extra], { encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout + r.stderr };
}

function raw(log: Log): Database.Database {
  return new Database(log.db);
}

describe('audit verify', () => {
  let log: Log;
  beforeEach(async () => {
    log = await makeLog(40);
  });

  it('passes on an untouched log, through the CLI too', () => {
    const store = new AuditStore(log.db, { readonly: true });
    const r = verifyStore(store, { key: loadOrCreateKey(log.keyFile), anchorFile: log.anchor });
    store.close();
    expect(r).toMatchObject({ ok: true, events: 40, head: 40, checkpoints: 4, anchored: 4, macChecked: true, signaturesChecked: true });
    const cli = verifyCli(log);
    expect(cli.code).toBe(0);
    expect(cli.out).toMatch(/^Verified: 40 events, chain intact from #1 to #40; 4 checkpoints/);
  });

  it('an edited field', () => {
    raw(log).prepare("UPDATE events SET target = 'innocent' WHERE seq = 17").run();
    const r = verifyCli(log);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/VERIFICATION FAILED at event #17 .*changed after it was written/);
  });

  it('a deleted row', () => {
    raw(log).prepare('DELETE FROM events WHERE seq = 23').run();
    expect(verifyCli(log).out).toMatch(/FAILED at event #23: event #23 is missing/);
  });

  it('an inserted row', () => {
    const db = raw(log);
    // Make room at 12 by shifting the rest up, then insert a plausible event there.
    db.exec('UPDATE events SET seq = seq + 1000 WHERE seq >= 12; UPDATE events SET seq = seq - 999 WHERE seq >= 1012');
    const row = db.prepare('SELECT * FROM events WHERE seq = 11').get() as StoredEvent;
    db.prepare('INSERT INTO events SELECT 12, ?, ts, event, session, principal_sub, client_id, issuer, server, method, target, decision, rule, reason, status, latency_ms, bytes_in, bytes_out, args, args_sha256, result_sha256, redactions, policy_version, extra, ?, hash, mac FROM events WHERE seq = 11').run('00000000-0000-7000-8000-000000000000', row.hash);
    expect(verifyCli(log).out).toMatch(/FAILED at event #12/);
  });

  it('two rows swapped', () => {
    const db = raw(log);
    db.exec('UPDATE events SET seq = -1 WHERE seq = 30; UPDATE events SET seq = 30 WHERE seq = 31; UPDATE events SET seq = 31 WHERE seq = -1');
    expect(verifyCli(log).out).toMatch(/FAILED at event #30/);
  });

  it('a truncated tail', () => {
    raw(log).prepare('DELETE FROM events WHERE seq > 33').run();
    const r = verifyCli(log);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/FAILED at event #34: events after #33 are missing: .*checkpoint #40 signed a longer chain/);
  });

  it('the database replaced by an older copy', async () => {
    const older = path.join(log.dir, 'older.db');
    // An older copy: the same log when it had 20 events (the anchor kept growing after it).
    const db = raw(log);
    db.exec(`VACUUM INTO '${older}'`);
    db.close();
    const o = new Database(older);
    o.exec('DELETE FROM events WHERE seq > 20; DELETE FROM checkpoints WHERE seq > 20');
    o.close();
    copyFileSync(older, log.db);
    const r = verifyCli(log);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/FAILED at event #21: events after #20 are missing: anchored checkpoint #30 signed a longer chain/);
  });

  it('an edit whose chain hashes were recomputed (no key): the MAC names the event', () => {
    const db = raw(log);
    const rows = db.prepare('SELECT * FROM events ORDER BY seq').all() as StoredEvent[];
    let prev = rows[0]!.prev_hash;
    for (const r of rows) {
      if (r.seq === 26) r.reason = 'nothing to see here';
      const h = chainHash(prev, r.seq, r);
      db.prepare('UPDATE events SET reason = ?, prev_hash = ?, hash = ? WHERE seq = ?').run(r.reason, prev, h, r.seq);
      prev = h;
    }
    const out = verifyCli(log).out;
    expect(out).toMatch(/FAILED at event #26 .*rewritten without the signing key/);
    // Without the private key (public key only), the signed checkpoints still catch it, after the last good one.
    const pub = path.join(log.dir, 'pub.txt');
    writeFileSync(pub, execFileSync(NODE, [CLI, 'audit', 'key', '--db', log.db], { encoding: 'utf8', env: { ...process.env, MCP_WARDEN_CONFIG: '' } }));
    expect(readFileSync(pub, 'utf8').trim()).toBe(loadOrCreateKey(log.keyFile).publicRaw);
    const r = spawnSync(NODE, [CLI, 'audit', 'verify', '--db', log.db, '--pubkey', pub, '--anchor', log.anchor], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/FAILED at event #21 \(.+\): the chain up to #30 differs from what database checkpoint #30 signed/);
  });

  it('an event appended after the last checkpoint (chain recomputed, no key): the MAC names it; with the public key alone verify says nothing vouches for it', () => {
    const pub = path.join(log.dir, 'pub.txt');
    writeFileSync(pub, execFileSync(NODE, [CLI, 'audit', 'key', '--db', log.db], { encoding: 'utf8', env: { ...process.env, MCP_WARDEN_CONFIG: '' } }));
    const byPub = () => spawnSync(NODE, [CLI, 'audit', 'verify', '--db', log.db, '--pubkey', pub, '--anchor', log.anchor], { encoding: 'utf8' });
    // Every event is under a signed checkpoint (the writer signs one at close): nothing to add.
    const clean = byPub();
    expect(clean.status).toBe(0);
    expect(clean.stdout).not.toContain('come after the last signed checkpoint');
    const db = raw(log);
    const last = db.prepare('SELECT * FROM events ORDER BY seq DESC LIMIT 1').get() as StoredEvent;
    const forged = { ...last, seq: last.seq + 1, id: '00000000-0000-7000-8000-000000000000', target: 'nothing_happened', prev_hash: last.hash };
    forged.hash = chainHash(last.hash, forged.seq, forged);
    const cols = Object.keys(forged);
    db.prepare(`INSERT INTO events (${cols.join(', ')}) VALUES (${cols.map((c) => `@${c}`).join(', ')})`).run(forged);
    db.close();
    expect(verifyCli(log).out).toMatch(new RegExp(`FAILED at event #${forged.seq} .*rewritten without the signing key`));
    const r = byPub();
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`Events #${forged.seq} to #${forged.seq} come after the last signed checkpoint: with the public key alone nothing vouches for them`);
  });

  it('an attacker with the signing key and the anchor file passes verify; the off-machine copy catches them', async () => {
    const rx = await syslogReceiver();
    const received = rx.received;
    const sink = new SyslogSink(`tcp://127.0.0.1:${rx.port}`, {}, silentLogger());
    await new Promise((r) => setTimeout(r, 100));
    const full = await makeLog(25, sink);
    await new Promise((r) => setTimeout(r, 300));
    await rx.close();
    expect(received.length).toBeGreaterThanOrEqual(25);
    expect(received[0]).toMatch(/^<110>1 \S+ \S+ mcp-warden \d+ exchange - \{/);
    // What the SIEM kept: the JSON part of each syslog message.
    const copy = path.join(full.dir, 'siem.jsonl');
    writeFileSync(copy, received.map((m) => m.slice(m.indexOf(' - {') + 3)).join('\n'));

    // The attacker rewrites event 9, recomputes the chain and MACs with the stolen key, re-signs every
    // checkpoint, and rewrites the anchor file.
    const key = loadOrCreateKey(full.keyFile);
    const db = raw(full);
    const rows = db.prepare('SELECT * FROM events ORDER BY seq').all() as StoredEvent[];
    let prev = rows[0]!.prev_hash;
    const heads = new Map<number, string>();
    for (const r of rows) {
      if (r.seq === 9) r.target = 'harmless_tool';
      const h = chainHash(prev, r.seq, r);
      db.prepare('UPDATE events SET target = ?, prev_hash = ?, hash = ?, mac = ? WHERE seq = ?').run(r.target, prev, h, eventMac(key.macKey, h), r.seq);
      heads.set(r.seq, h);
      prev = h;
    }
    const origin = (db.prepare("SELECT value FROM meta WHERE key = 'origin'").get() as { value: string }).value;
    const anchorLines: string[] = [];
    for (const cp of db.prepare('SELECT * FROM checkpoints').all() as { seq: number; ts: string }[]) {
      const note = checkpointNote(origin, cp.seq, heads.get(cp.seq)!);
      const sig = signNote(key, note);
      db.prepare('UPDATE checkpoints SET head = ?, note = ?, signature = ? WHERE seq = ?').run(heads.get(cp.seq), note, sig, cp.seq);
      anchorLines.push(JSON.stringify({ origin, seq: cp.seq, ts: cp.ts, head: heads.get(cp.seq), key_id: key.keyId, note, signature: sig }));
    }
    db.close();
    writeFileSync(full.anchor, `${anchorLines.join('\n')}\n`);

    expect(verifyCli(full).code).toBe(0);
    const r = verifyCli(full, '--copy', copy);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/FAILED at event #9 .*differs from the off-machine copy/);
    expect(readFileSync(copy, 'utf8')).toContain('"target":"tool_9"');
  });
});

describe('the log renamed', () => {
  it("the tail cut, the checkpoints dropped and the origin changed is caught by the anchor file, which then names no checkpoint of this log", async () => {
    const log = await makeLog(30);
    const db = raw(log);
    db.exec("DELETE FROM events WHERE seq > 20; DELETE FROM checkpoints; UPDATE meta SET value = 'mcp-warden/0000000000000000' WHERE key = 'origin'");
    db.close();
    const r = verifyCli(log);
    expect(r.code, r.out).toBe(1);
    expect(r.out).toContain("the anchor file holds no checkpoint of this log (origin mcp-warden/0000000000000000), only of mcp-warden/");
    expect(r.out).toContain("the database's origin was changed, or this is another log's anchor file");
    // A log with the anchor file of another log is told the same; its own anchor file verifies it.
    const other = await makeLog(5);
    const wrong = spawnSync(NODE, [CLI, 'audit', 'verify', '--db', other.db, '--key', other.keyFile, '--anchor', log.anchor], { encoding: 'utf8' });
    expect(wrong.status).toBe(1);
    expect(wrong.stdout + wrong.stderr).toContain('the anchor file holds no checkpoint of this log');
    expect(verifyCli(other).code).toBe(0);
  });
});

describe('prune', () => {
  it('keeps what remains verifiable, and a forged base is caught', async () => {
    const log = await makeLog(30);
    const db = raw(log);
    const cut = (db.prepare('SELECT ts FROM events WHERE seq = 12').get() as { ts: string }).ts;
    db.close();
    const out = execFileSync(NODE, [CLI, 'audit', 'prune', '--db', log.db, '--before', cut], { encoding: 'utf8' });
    expect(out).toMatch(/removed \d+ events; the chain now starts after #\d+/);
    const store = new AuditStore(log.db, { readonly: true });
    const r = verifyStore(store, { key: loadOrCreateKey(log.keyFile), anchorFile: log.anchor });
    store.close();
    expect(r.ok).toBe(true);
    expect(r.base).toBeGreaterThan(0);
    // Deleting more and moving the base forward without the key is caught.
    const d2 = raw(log);
    d2.exec(`DELETE FROM events WHERE seq <= ${r.base + 5}`);
    d2.prepare("UPDATE meta SET value = ? WHERE key = 'base_seq'").run(String(r.base + 5));
    d2.close();
    const r2 = verifyCli(log);
    expect(r2.code).toBe(1);
    expect(r2.out).toMatch(/prune base/);
  });

  it('deleting the first events up to a checkpoint and setting the base there is caught: a checkpoint is not a prune', async () => {
    // Checkpoints every 10 events: #10, #20, #30 are signed. Someone who can write the database but has no key
    // removes #1–#20 (the calls they want gone), the checkpoints before #20, and sets the base to #20's hash.
    const forge = (log: Log, seq: number) => {
      const db = raw(log);
      const hash = (db.prepare('SELECT hash FROM events WHERE seq = ?').get(seq) as { hash: string }).hash;
      db.exec(`DELETE FROM events WHERE seq <= ${seq}; DELETE FROM checkpoints WHERE seq < ${seq}`);
      const put = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value');
      put.run('base_seq', String(seq));
      put.run('base_hash', hash);
      db.close();
    };
    const log = await makeLog(30);
    forge(log, 20);
    const r = verifyCli(log);
    expect(r.code, r.out).toBe(1);
    expect(r.out).toContain('the events up to #20 were removed without a signed prune record');
    expect(r.out).toContain('`mcp-warden audit prune --sign-base` with the key vouches for it');
    // The public key alone sees it too.
    const pub = path.join(log.dir, 'pub.txt');
    writeFileSync(pub, execFileSync(NODE, [CLI, 'audit', 'key', '--db', log.db], { encoding: 'utf8', env: { ...process.env, MCP_WARDEN_CONFIG: '' } }));
    const byPub = spawnSync(NODE, [CLI, 'audit', 'verify', '--db', log.db, '--pubkey', pub], { encoding: 'utf8' });
    expect(byPub.status).toBe(1);
    expect(byPub.stdout + byPub.stderr).toContain('removed without a signed prune record');

    // After a real prune to #10, moving the base on to the next checkpoint keeps a signature that no longer fits.
    const pruned = await makeLog(30);
    const db = raw(pruned);
    const cut = (db.prepare('SELECT ts FROM events WHERE seq = 11').get() as { ts: string }).ts;
    db.close();
    execFileSync(NODE, [CLI, 'audit', 'prune', '--db', pruned.db, '--before', cut]);
    const ok = verifyCli(pruned);
    expect(ok.code, ok.out).toBe(0);
    forge(pruned, 20);
    const moved = verifyCli(pruned);
    expect(moved.code).toBe(1);
    expect(moved.out).toContain('the prune record of base #20 has an invalid signature');

    // A trail pruned by an earlier mcp-warden (no record): the key holder vouches for its base, and it verifies.
    const prune = (...args: string[]) => spawnSync(NODE, [CLI, 'audit', 'prune', '--db', log.db, ...args], { encoding: 'utf8' });
    expect(prune().status).toBe(2);
    expect(prune('--sign-base', '--before', '1d').status).toBe(2);
    const signed = prune('--sign-base');
    expect(signed.status, signed.stderr).toBe(0);
    expect(signed.stdout).toContain('signed the prune record of base #20');
    expect(verifyCli(log).code).toBe(0);
    const fresh = await makeLog(3);
    expect(spawnSync(NODE, [CLI, 'audit', 'prune', '--db', fresh.db, '--sign-base'], { encoding: 'utf8' }).stdout).toContain('this trail has no prune base: nothing to sign');
  });
});

describe('schema migration', () => {
  it('a version-1 database (with its two indexes) is migrated on open: indexes gone, every event kept and verifiable', async () => {
    const log = await makeLog(25);
    // Put the database back to what version 1 wrote.
    const db = raw(log);
    db.exec('CREATE INDEX events_ts ON events (ts); CREATE INDEX events_server_target ON events (server, target)');
    db.prepare("UPDATE meta SET value = '1' WHERE key = 'schema_version'").run();
    db.close();
    const key = loadOrCreateKey(log.keyFile);
    const store = new AuditStore(log.db);
    expect(store.meta('schema_version')).toBe('2');
    const indexes = store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events' AND name NOT LIKE 'sqlite_%'").all();
    expect(indexes).toEqual([]);
    const e = blankEvent('exchange');
    e.server = 'files';
    e.target = 'after_migration';
    store.append([e], key);
    store.close();
    const check = new AuditStore(log.db, { readonly: true });
    const r = verifyStore(check, { key, anchorFile: log.anchor });
    const q = check.db.prepare('SELECT COUNT(*) AS n FROM events WHERE server = ? AND target LIKE ?').get('files', 'tool_%') as { n: number };
    check.close();
    expect(r).toMatchObject({ ok: true, events: 26, head: 26 });
    expect(q.n).toBe(25);
  });
});

describe('checkpoints after a quiet spell', () => {
  it('sign the head once the log has been idle, and again after later events (the idle timer re-arms)', async () => {
    const dir = tmpDir('mcpw-idle-');
    const key = loadOrCreateKey(path.join(dir, 'key'));
    const store = new AuditStore(path.join(dir, 'audit.db'));
    const writer = new AuditWriter(store, key, { onFailure: 'deny', checkpointEvery: 1000, checkpointIntervalMs: 60_000, idleCheckpointMs: 500, anchorFile: path.join(dir, 'anchor'), log: silentLogger() });
    const burst = async (n: number) => {
      for (let i = 0; i < n; i++) {
        await writer.enqueue(blankEvent('exchange'));
        // Events closer together than the idle time (here 20 ms apart, against 500 ms) push the checkpoint back.
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    // 30 events over ~600 ms, longer than the idle time: a timer that was not pushed back would fire mid-burst.
    await burst(30);
    expect(store.checkpoints()).toEqual([]);
    await new Promise((r) => setTimeout(r, 1200));
    expect(store.checkpoints().map((c) => c.seq)).toEqual([30]);
    await burst(5);
    expect(store.checkpoints().map((c) => c.seq)).toEqual([30]);
    await new Promise((r) => setTimeout(r, 1200));
    expect(store.checkpoints().map((c) => c.seq)).toEqual([30, 35]);
    expect(readFileSync(path.join(dir, 'anchor'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { seq: number }).seq)).toEqual([30, 35]);
    // Closing signs nothing new: the idle checkpoint already covers the head.
    await writer.close();
    const check = new AuditStore(path.join(dir, 'audit.db'), { readonly: true });
    expect(verifyStore(check, { key, anchorFile: path.join(dir, 'anchor') })).toMatchObject({ ok: true, events: 35, checkpoints: 2, anchored: 2 });
    check.close();
  });
});
