/**
 * How `wrap` ends: it answers what the host sent before closing stdin (as a server would), a signal cuts that wait
 * short, and it exits — with the reason in the audit trail's `session_end` — on a signal, when the host stops
 * reading its stdout, or when its child is lost for good, even while the host keeps stdin open.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { descendants } from '../../src/proxy/tree.js';
import { gone } from '../helpers/procs.js';
import { auditEvents } from '../helpers/audit.js';
import { isolatedEnv, NODE, ROOT, tmpDir, writeConfig, wrapArgs } from '../helpers/cli.js';
import { RawStdio, text } from '../helpers/raw.js';

const FAULT = path.join(ROOT, 'test/fixtures/fault-server.mjs');
/** Less than wrap's 10 s drain, far more than a shutdown takes (the child's grace period is 2 s). */
const DRAIN_CUT_MS = 7_000;

function wrapWithAudit(prefix: string, env: Record<string, string> = {}): { peer: RawStdio; db: string } {
  const db = path.join(tmpDir(prefix), 'audit.db');
  const peer = new RawStdio(NODE, wrapArgs('--config', writeConfig(`audit:\n  db: ${db}\n`), '--', NODE, FAULT), isolatedEnv(env));
  return { peer, db };
}

/** Waits (bounded) until wrap has logged that it is shutting down (log level info). */
async function shuttingDown(peer: RawStdio): Promise<void> {
  for (let i = 0; i < 500 && !peer.stderr.includes('"msg":"shutting down"'); i++) await new Promise((r) => setTimeout(r, 20));
  expect(peer.stderr).toContain('"msg":"shutting down"');
}

const sessionEnds = (db: string) => auditEvents(db, { event: 'session_end' }).map((e) => e.reason);

describe('wrap answers what the host sent before it closed stdin', () => {
  it('requests written together with the end of input are all answered, then wrap exits 0', async () => {
    const { peer, db } = wrapWithAudit('mcpw-eof-');
    peer.send({ id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
    peer.send({ method: 'notifications/initialized' });
    peer.send({ id: 2, method: 'tools/call', params: { name: 'echo', arguments: { text: 'last words' } } });
    peer.send({ id: 3, method: 'tools/list', params: {} });
    peer.proc.stdin!.end();
    expect(await peer.exitedWithin(15_000)).toBe(0);
    expect((await peer.reply(1)).result?.['serverInfo']).toMatchObject({ name: 'fault-server' });
    expect(text(await peer.reply(2))).toBe('echo: last words');
    expect((await peer.reply(3)).result?.['tools']).toHaveLength(3);
    expect(sessionEnds(db)).toEqual(['the host closed stdin']);
    const calls = auditEvents(db, { event: 'exchange' }).filter((e) => e.method === 'tools/call');
    expect(calls.map((e) => e.status)).toEqual(['ok']);
  });

  it('a signal during that wait ends it: the unanswered call fails, the rest was answered', async () => {
    const { peer, db } = wrapWithAudit('mcpw-eofsig-', { MCP_WARDEN_LOG_LEVEL: 'info' });
    await peer.initialize();
    peer.send({ id: 1, method: 'tools/call', params: { name: 'hang', arguments: {} } });
    peer.send({ id: 2, method: 'tools/call', params: { name: 'echo', arguments: { text: 'quick' } } });
    expect(text(await peer.reply(2))).toBe('echo: quick');
    peer.proc.stdin!.end();
    // wrap is now waiting for the call that never returns.
    await shuttingDown(peer);
    expect(peer.stderr).toContain('"unanswered":1');
    peer.proc.kill('SIGTERM');
    // Well inside the 10 s the drain would otherwise wait: a proxy still waiting is killed and fails here.
    expect(await peer.exitedWithin(DRAIN_CUT_MS)).toBe(0);
    expect(await peer.reply(1)).toMatchObject({ error: { code: -32011, message: 'Session ended: the host closed stdin' } });
    expect(peer.stderr).toContain('not waiting for the requests in flight');
    expect(sessionEnds(db)).toEqual(['the host closed stdin']);
  });
});

describe('wrap exits while the host keeps stdin open', () => {
  it('on SIGTERM: exit 0, the session end recorded, the tree gone', async () => {
    const { peer, db } = wrapWithAudit('mcpw-term-');
    await peer.initialize();
    const spawned = JSON.parse(text(await peer.call(1, 'spawn'))) as { shChild: number; setsid: number };
    const tree = [...descendants(peer.proc.pid!)];
    peer.proc.kill('SIGTERM');
    expect(await peer.exitedWithin(15_000)).toBe(0);
    expect(await gone([...tree, spawned.shChild, spawned.setsid])).toEqual([]);
    expect(sessionEnds(db)).toEqual(['received SIGTERM']);
  });

  it('on SIGTERM with a call in flight: it is waited for, and a second signal ends the wait', async () => {
    const { peer, db } = wrapWithAudit('mcpw-termcall-', { MCP_WARDEN_LOG_LEVEL: 'info' });
    await peer.initialize();
    peer.send({ id: 1, method: 'tools/call', params: { name: 'hang', arguments: {} } });
    expect(text(await peer.call(2, 'echo', { text: 'before' }))).toBe('echo: before');
    peer.proc.kill('SIGTERM');
    await shuttingDown(peer);
    expect(peer.stderr).toContain('"unanswered":1');
    peer.proc.kill('SIGTERM');
    expect(await peer.exitedWithin(DRAIN_CUT_MS)).toBe(0);
    expect(peer.stderr).toContain('not waiting for the requests in flight');
    expect(await peer.reply(1)).toMatchObject({ error: { code: -32011, message: 'Session ended: received SIGTERM' } });
    expect(sessionEnds(db)).toEqual(['received SIGTERM']);
  });

  it('when the host stops reading stdout: exit 0, the session end says why', async () => {
    const { peer, db } = wrapWithAudit('mcpw-epipe-');
    await peer.initialize();
    peer.proc.stdout!.destroy();
    // Answers go nowhere now; writing them fails with EPIPE.
    for (let id = 1; id <= 3; id++) peer.write(`{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"echo","arguments":{"text":"${'x'.repeat(100_000)}"}}}\n`);
    expect(await peer.exitedWithin(15_000)).toBe(0);
    expect(sessionEnds(db)).toEqual(['the host stopped reading stdout (EPIPE)']);
  });

  it('when the upstream is lost and may not be restarted: exit 1, the session end recorded', async () => {
    const db = path.join(tmpDir('mcpw-lost-'), 'audit.db');
    const cfg = writeConfig(`audit:\n  db: ${db}\nservers:\n  fault:\n    command: ${JSON.stringify(NODE)}\n    args: [${JSON.stringify(FAULT)}]\n    max_restarts: 0\n`);
    const peer = new RawStdio(NODE, wrapArgs('--config', cfg, '--name', 'fault'), isolatedEnv());
    await peer.initialize();
    expect((await peer.call(1, 'die', { code: 3 })).error?.message).toMatch(/exited with code 3/);
    expect(await peer.exitedWithin(15_000)).toBe(1);
    expect(auditEvents(db, { event: 'upstream_crash' })).toMatchObject([{ reason: 'exited with code 3' }]);
    expect(sessionEnds(db)).toEqual(['upstream exited with code 3']);
  });

  it('max_restarts counts the deaths of restart_window_s: one now and then is restarted each time, more in the window end it', async () => {
    const db = path.join(tmpDir('mcpw-window-'), 'audit.db');
    const cfg = writeConfig(`audit:\n  db: ${db}\nservers:\n  fault:\n    command: ${JSON.stringify(NODE)}\n    args: [${JSON.stringify(FAULT)}]\n    max_restarts: 1\n    restart_window_s: 2.5\n`);
    const peer = new RawStdio(NODE, wrapArgs('--config', cfg, '--name', 'fault'), isolatedEnv());
    await peer.initialize();
    let id = 0;
    for (let death = 0; death < 2; death++) {
      expect((await peer.call(++id, 'die', { code: 3 })).error?.message).toMatch(/exited with code 3/);
      // Restarted: the first death of each window is within max_restarts (the count was for the whole session).
      expect(text(await peer.call(++id, 'echo', { text: `after death ${death + 1}` }))).toBe(`echo: after death ${death + 1}`);
      await new Promise((r) => setTimeout(r, 2700));
    }
    // Two deaths in one window: the second ends the session.
    expect((await peer.call(++id, 'die', { code: 3 })).error?.message).toMatch(/exited with code 3/);
    expect(text(await peer.call(++id, 'echo', { text: 'x' }))).toBe('echo: x');
    expect((await peer.call(++id, 'die', { code: 4 })).error?.message).toMatch(/exited with code 4/);
    expect(await peer.exitedWithin(15_000)).toBe(1);
    expect(auditEvents(db, { event: 'upstream_spawn' }).map((e) => JSON.parse(e.extra!).restart)).toEqual([1, 2, 3]);
    expect(sessionEnds(db)).toEqual(['upstream exited with code 4']);
  });
});
