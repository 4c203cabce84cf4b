/**
 * Issue 2, done-when 4: no process the proxy started survives it — after wrap loses stdin and after serve gets
 * SIGTERM — including grandchildren started through `sh -c` or `npx`, and one that called `setsid`.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { descendants, isAlive } from '../../src/proxy/tree.js';
import { gone } from '../helpers/procs.js';
import { isolatedEnv, NODE, ROOT, startServe } from '../helpers/cli.js';
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
