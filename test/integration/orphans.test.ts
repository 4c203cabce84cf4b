/**
 * Issue 2, done-when 4: no process the proxy started survives it — after wrap loses stdin and after serve gets
 * SIGTERM — including grandchildren started through `sh -c` or `npx`, and one that called `setsid`.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { descendants, isAlive } from '../../src/proxy/tree.js';
import { gone, running, stopped } from '../helpers/procs.js';
import { EVERYTHING, isolatedEnv, NODE, ROOT, startServe } from '../helpers/cli.js';
import { RawStdio, text } from '../helpers/raw.js';
import { CLI } from '../helpers/cli.js';

const FAULT = path.join(ROOT, 'test/fixtures/fault-server.mjs');

function grandchildPids(r: string): number[] {
  const p = JSON.parse(r) as { sh: number; shChild: number; setsid: number };
  return [p.shChild, p.setsid];
}

describe('wrap ends its whole tree when the host closes stdin', () => {
  const cases: [string, string[], Record<string, string>][] = [
    ['a direct child', [NODE, FAULT], {}],
    ['a child started through sh -c', ['sh', '-c', `exec ${NODE} ${FAULT} # via sh`], {}],
    ['a child behind sh -c that does not exec', ['sh', '-c', `${NODE} ${FAULT}; echo done`], {}],
  ];
  for (const [label, cmd] of cases) {
    it(label, async () => {
      const peer = new RawStdio(NODE, [CLI, 'wrap', '--', ...cmd], isolatedEnv());
      await peer.initialize();
      const spawned = grandchildPids(text(await peer.call(1, 'spawn')));
      const tree = [...descendants(peer.proc.pid!)];
      // The server and its setsid child at least; the `sleep &` of `sh -c` was re-parented to init and is only
      // found by the tree tag.
      expect(tree.length).toBeGreaterThanOrEqual(2);
      expect(tree).not.toContain(spawned[0]);
      for (const p of spawned) expect(isAlive(p)).toBe(true);
      expect(await peer.close()).toBe(0);
      expect(await gone([...tree, ...spawned])).toEqual([]);
    });
  }

  it('a server started through npx', async () => {
    const peer = new RawStdio(NODE, [CLI, 'wrap', '--', 'npx', '--no-install', 'mcp-server-everything', 'stdio'], { ...isolatedEnv(), npm_config_cache: path.join(ROOT, '.cache/npm') });
    peer.proc.stdout!.setEncoding('utf8');
    const init = await peer.initialize();
    expect(init.result?.['serverInfo']).toMatchObject({ name: 'mcp-servers/everything' });
    const tree = [...descendants(peer.proc.pid!)];
    expect(tree.length).toBeGreaterThanOrEqual(2);
    expect(await peer.close()).toBe(0);
    expect(await gone(tree)).toEqual([]);
  });
});

describe('wrap stopped the way an MCP host stops a server: end of stdin, SIGTERM, SIGKILL', () => {
  it('ends a server that keeps running after its stdin closes before the host SIGKILLs wrap', async () => {
    // A call is still running when the host closes wrap's stdin, so server-everything does not exit when its stdin
    // ends (the operation's timer holds it). The host waits less than wrap's own grace for its child
    // (shutdown_grace_ms, 2 s), sends SIGTERM and SIGKILLs a second later, as the SDK clients do with their own 2 s
    // waits. Before, the SIGTERM ended wrap's wait for the call, and wrap then closed the child's stdin and waited
    // for it to exit: the SIGKILL came first, and the server was left running with nobody to end it.
    const peer = new RawStdio(NODE, [CLI, 'wrap', '--', NODE, EVERYTHING, 'stdio'], isolatedEnv());
    await peer.initialize();
    const running = peer.call(2, 'trigger-long-running-operation', { duration: 6, steps: 6 }, 15_000).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 300));
    const tree = [...descendants(peer.proc.pid!)];
    expect(tree.length).toBeGreaterThanOrEqual(1);
    try {
      peer.proc.stdin!.end();
      await new Promise((r) => setTimeout(r, 500));
      peer.proc.kill('SIGTERM');
      // wrap exits by itself (code 0) within the host's grace; the SIGKILL would leave a null code.
      expect(await peer.exitedWithin(1_000)).toBe(0);
      expect(await gone(tree, 2_000)).toEqual([]);
      // The call wrap could not finish was answered before it exited.
      expect((await running)?.error?.code).toBe(-32011);
    } finally {
      for (const p of tree) if (isAlive(p)) process.kill(p, 'SIGKILL');
    }
  });
});

describe('wrap killed outright (SIGKILL, the OOM killer)', () => {
  it('leaves no server running that ignores the end of its stdin: a watchdog ends its process group', async () => {
    const peer = new RawStdio(NODE, [CLI, 'wrap', '--', NODE, FAULT, '--ignore-eof'], isolatedEnv());
    await peer.initialize();
    const server = Number(text(await peer.call(1, 'pid')));
    try {
      expect(running(server)).toBe(true);
      peer.proc.kill('SIGKILL');
      expect(await peer.exitedWithin(2_000)).toBe(null);
      expect(await stopped([server], 3_000)).toEqual([]);
    } finally {
      if (running(server)) process.kill(server, 'SIGKILL');
    }
  });

  it('a normal close leaves no watchdog behind', async () => {
    const peer = new RawStdio(NODE, [CLI, 'wrap', '--', NODE, FAULT], isolatedEnv());
    await peer.initialize();
    const tree = [...descendants(peer.proc.pid!)];
    // The server and its watchdog shell.
    expect(tree.length).toBeGreaterThanOrEqual(2);
    expect(await peer.close()).toBe(0);
    expect(await stopped(tree)).toEqual([]);
  });
});

describe('serve ends every tree on SIGTERM', () => {
  it('two sessions, each with grandchildren and a setsid escapee', async () => {
    const gw = await startServe(`servers:\n  fault:\n    command: sh\n    args: ["-c", ${JSON.stringify(`${NODE} ${FAULT}`)}]\n`);
    const url = `${gw.url}/fault/mcp`;
    const H = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    const spawned: number[] = [];
    for (let s = 0; s < 2; s++) {
      const init = await fetch(url, { method: 'POST', headers: H, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }) });
      const sid = init.headers.get('mcp-session-id')!;
      await init.text();
      const r = await fetch(url, { method: 'POST', headers: { ...H, 'mcp-session-id': sid }, body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'spawn', arguments: {} } }) });
      const body = (await r.json()) as { result: { content: { text: string }[] } };
      spawned.push(...grandchildPids(body.result.content[0]!.text));
    }
    const tree = [...descendants(gw.proc.pid!)];
    expect(tree.length).toBeGreaterThanOrEqual(6);
    expect(await gw.stop('SIGTERM')).toBe(0);
    expect(await gone([...tree, ...spawned])).toEqual([]);
  });
});
