/**
 * The off-machine copy at shutdown: the last events of a session and the final checkpoint (the ones that show the
 * tail was not cut) reach the receiver before the proxy exits, through `wrap` with a real HTTP receiver that is
 * slow to answer, and through the syslog sink closed while its connection is still being made.
 */
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { createSink } from '../../src/audit/sink.js';
import { afterEach, describe, expect, it } from 'vitest';
import { loadOrCreateKey } from '../../src/audit/keys.js';
import { SyslogSink } from '../../src/audit/sink.js';
import { AuditStore } from '../../src/audit/store.js';
import { AuditWriter, blankEvent } from '../../src/audit/writer.js';
import { silentLogger } from '../../src/log/logger.js';
import { auditEvents } from '../helpers/audit.js';
import { CLI, isolatedEnv, NODE, ROOT, tmpDir, writeConfig, wrapArgs } from '../helpers/cli.js';
import { RawStdio } from '../helpers/raw.js';
import { syslogReceiver } from '../helpers/syslog.js';

const UPSTREAM = path.join(ROOT, 'bench/upstream.mjs');

interface Receiver {
  url: string;
  lines: Record<string, unknown>[];
  posts: () => number;
  close(): Promise<void>;
}

/** An NDJSON receiver on loopback that answers each POST after `delayMs` (0: at once; Infinity: never). */
async function receiver(delayMs: number): Promise<Receiver> {
  const lines: Record<string, unknown>[] = [];
  let posts = 0;
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      posts++;
      if (delayMs === Infinity) return;
      setTimeout(() => {
        for (const l of body.split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
        res.end('ok');
      }, delayMs);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/ingest`,
    lines,
    posts: () => posts,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
});

async function session(rx: Receiver, calls: number): Promise<{ db: string; dir: string; peer: RawStdio; code: number | null }> {
  const dir = tmpDir('mcpw-sink-');
  const db = path.join(dir, 'audit.db');
  const cfg = writeConfig(`audit:\n  db: ${db}\n  sink: { https: "${rx.url}" }\n`);
  const peer = new RawStdio(NODE, wrapArgs('--config', cfg, '--', NODE, UPSTREAM, 'stdio'), isolatedEnv());
  await peer.initialize();
  for (let i = 0; i < calls; i++) {
    const r = await peer.call(i, 'echo', { text: `call ${i}` });
    expect(r.result).toBeDefined();
    // Spread out, so a POST is under way while the session goes on and when it ends.
    await new Promise((r) => setTimeout(r, 15));
  }
  const code = await peer.close();
  return { db, dir, peer, code };
}

describe('the HTTPS audit sink at shutdown', () => {
  it('delivers every event and the final checkpoint to a receiver slow to answer, and the copy verifies', async () => {
    const rx = await receiver(300);
    open.push(rx);
    const { db, dir, code } = await session(rx, 20);
    expect(code).toBe(0);

    const stored = auditEvents(db);
    const last = stored[stored.length - 1]!;
    expect(last.event).toBe('session_end');
    const copied = rx.lines.filter((l) => l['type'] === 'event').map((l) => l['seq']);
    // Every event of the database, the session's end included, is in the copy (each once).
    expect(copied).toEqual(stored.map((e) => e.seq));
    const checkpoints = rx.lines.filter((l) => l['type'] === 'checkpoint').map((l) => l['seq']);
    expect(checkpoints).toContain(last.seq);

    const copy = path.join(dir, 'siem.jsonl');
    writeFileSync(copy, rx.lines.map((l) => JSON.stringify(l)).join('\n'));
    const v = spawnSync(NODE, [CLI, 'audit', 'verify', '--db', db, '--copy', copy], { encoding: 'utf8', env: isolatedEnv() });
    expect(v.stdout + v.stderr).not.toMatch(/differs|missing|not in the database/);
    expect(v.status).toBe(0);
  });

  it('a receiver that never answers holds shutdown only for a bounded time, and the loss is logged', async () => {
    const rx = await receiver(Infinity);
    open.push(rx);
    const { db, peer, code } = await session(rx, 3);
    // RawStdio.close allows 10 s; the sink gives up after 3 s and says how much it could not deliver.
    expect(code).toBe(0);
    expect(rx.posts()).toBeGreaterThan(0);
    const left = /"lines":(\d+)[^\n]*not delivered at shutdown/.exec(peer.stderr);
    expect(left).not.toBeNull();
    expect(Number(left![1])).toBeGreaterThanOrEqual(auditEvents(db).length);
  });
});

describe('the syslog audit sink', () => {
  it('closed while its connection is being made, it still sends what was queued', async () => {
    const rx = await syslogReceiver();
    open.push(rx);

    const dir = tmpDir('mcpw-syslog-');
    const store = new AuditStore(path.join(dir, 'audit.db'));
    const sink = new SyslogSink(`tcp://127.0.0.1:${rx.port}`, {}, silentLogger());
    const writer = new AuditWriter(store, loadOrCreateKey(path.join(dir, 'key')), { onFailure: 'deny', checkpointEvery: 1000, checkpointIntervalMs: 60_000, idleCheckpointMs: 60_000, anchorFile: undefined, sink, log: silentLogger() });
    // A session shorter than the connection takes: events, then the writer closes in the same turn of the loop.
    for (let i = 0; i < 5; i++) writer.record({ ...blankEvent('exchange'), target: `tool_${i}` });
    writer.flush();
    await writer.close();
    // By the time close() is done the connection was made, used and ended (before, close() returned at once and
    // left the connection open: its lines went out only if the process lived on until it was made).
    const end = await Promise.race([rx.endedByPeer.then(() => 'ended'), new Promise((r) => setTimeout(() => r('still open'), 2000))]);
    expect(end).toBe('ended');
    expect(rx.received.filter((m) => / exchange - \{/.test(m))).toHaveLength(5);
    expect(rx.received.some((m) => / checkpoint - \{/.test(m))).toBe(true);
  });
});

describe('a sink the proxy could not use', () => {
  it('stops the start with the reason (exit 2), where a header crashed the proxy at its first send', async () => {
    const rx = await receiver(0);
    open.push(rx);
    const cfg = writeConfig(`audit:\n  db: ${path.join(tmpDir('mcpw-sinkbad-'), 'audit.db')}\n  sink:\n    https: "${rx.url}"\n    headers: { x-siem-token: "abc\\ndef" }\n`);
    const r = spawnSync(NODE, wrapArgs('--config', cfg, '--', NODE, UPSTREAM, 'stdio'), { encoding: 'utf8', env: isolatedEnv(), input: '', timeout: 15_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('audit.sink.headers: "x-siem-token" cannot be sent as an HTTP header');
    // The value (usually a credential) is not repeated.
    expect(r.stderr).not.toContain('abc');
    expect(rx.posts()).toBe(0);
  });

  it('names a CA bundle it cannot read, or one without a certificate', () => {
    const dir = tmpDir('mcpw-sinkca-');
    const notPem = path.join(dir, 'ca.txt');
    writeFileSync(notPem, 'not a certificate\n');
    expect(() => createSink({ syslog: 'tls://127.0.0.1:6514', ca: path.join(dir, 'missing.pem') }, silentLogger())).toThrow(/missing\.pem: cannot read the audit sink's CA bundle \(audit\.sink\.ca\): no such file/);
    expect(() => createSink({ https: 'https://siem.example.com/in', ca: notPem }, silentLogger())).toThrow(/ca\.txt: the audit sink's CA bundle \(audit\.sink\.ca\) holds no PEM certificate/);
  });
});
