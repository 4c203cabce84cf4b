/**
 * Isolation (SPEC §1): a stdio child behind serve never serves two principals unless `isolation: shared`; with it,
 * sessions share one child but not each other's results, progress, subscriptions or tasks; 2026 requestState is
 * bound to the principal.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, type McpClient } from '../helpers/clients.js';
import { ALLOW_ALL, EVERYTHING, NODE, ROOT, startServe, type Running } from '../helpers/cli.js';

const FAULT = path.join(ROOT, 'test/fixtures/fault-server.mjs');
const DUAL = path.join(ROOT, 'test/fixtures/dual-era-server.mjs');

function text(r: Record<string, unknown>): string {
  return ((r['content'] as { text?: string }[] | undefined) ?? []).map((c) => c.text ?? '').join('');
}

let gw: Running;
beforeAll(async () => {
  gw = await startServe(
    `servers:
  separate:
    command: ${JSON.stringify(NODE)}
    args: [${JSON.stringify(FAULT)}]
  shared:
    command: ${JSON.stringify(NODE)}
    args: [${JSON.stringify(FAULT)}]
    isolation: shared
  everything:
    command: ${JSON.stringify(NODE)}
    args: [${JSON.stringify(EVERYTHING)}, stdio]
    isolation: shared
  dual:
    command: ${JSON.stringify(NODE)}
    args: [${JSON.stringify(DUAL)}, stdio]
policy: [${JSON.stringify(ALLOW_ALL)}]
`,
  );
});
afterAll(async () => {
  await gw?.stop();
});

async function two(server: string): Promise<[McpClient, McpClient]> {
  return [await connectClient('v1', { kind: 'http', url: `${gw.url}/${server}/mcp` }), await connectClient('v1', { kind: 'http', url: `${gw.url}/${server}/mcp` })];
}

describe('isolation', () => {
  it('per session by default: two sessions, two children', async () => {
    const [a, b] = await two('separate');
    try {
      expect(text(await a.callTool('pid'))).not.toBe(text(await b.callTool('pid')));
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('shared: one child, and concurrent calls with the same JSON-RPC ids never cross', async () => {
    const [a, b] = await two('shared');
    try {
      expect(text(await a.callTool('pid'))).toBe(text(await b.callTool('pid')));
      // Both SDK clients number their requests the same way; interleave many calls.
      const calls: Promise<[string, string]>[] = [];
      for (let i = 0; i < 50; i++) {
        calls.push(a.callTool('echo', { text: `a${i}` }).then((r) => [`echo: a${i}`, text(r)]));
        calls.push(b.callTool('echo', { text: `b${i}` }).then((r) => [`echo: b${i}`, text(r)]));
      }
      for (const [want, got] of await Promise.all(calls)) expect(got).toBe(want);
      // One session ending leaves the child serving the other.
      await a.close();
      expect(text(await b.callTool('echo', { text: 'still' }))).toBe('echo: still');
    } finally {
      await b.close();
    }
  });

  it('shared: progress goes to its own session; tasks stay with the session that created them', async () => {
    const [a, b] = await two('everything');
    try {
      const pa: number[] = [];
      const pb: number[] = [];
      await Promise.all([
        a.callTool('trigger-long-running-operation', { duration: 0.5, steps: 3 }, { onprogress: (p) => pa.push(p.progress) }),
        b.callTool('trigger-long-running-operation', { duration: 0.5, steps: 3 }, { onprogress: (p) => pb.push(p.progress) }),
      ]);
      expect(pa.length).toBeGreaterThan(0);
      expect(pb.length).toBeGreaterThan(0);
      const created = await a.request('tools/call', { name: 'simulate-research-query', arguments: { topic: 'x' }, task: { ttl: 60_000 } });
      const taskId = (created['task'] as { taskId: string }).taskId;
      expect((await a.request('tasks/get', { taskId }))['taskId']).toBe(taskId);
      await expect(b.request('tasks/get', { taskId })).rejects.toThrow(/Task .* not found/);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('2026 requestState is bound to the session that received it', () => {
  const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': { elicitation: { form: {} } } };
  async function call(extra: Record<string, unknown>): Promise<Record<string, unknown>> {
    const res = await fetch(`${gw.url}/dual/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'test_input_required_result_request_state' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'test_input_required_result_request_state', arguments: {}, _meta: meta, ...extra } }),
    });
    return (await res.json()) as Record<string, unknown>;
  }
  it('the server’s state is wrapped; an altered or foreign state is refused before the server sees it', async () => {
    const first = (await call({}))['result'] as Record<string, unknown>;
    const state = first['requestState'] as string;
    expect(state.startsWith('mcpwb1.')).toBe(true);
    const answer = { confirm: { action: 'accept', content: { ok: true } } };
    expect(JSON.stringify(await call({ inputResponses: answer, requestState: state }))).toContain('state-ok');
    const tampered = await call({ inputResponses: answer, requestState: `${state.slice(0, -3)}xyz` });
    expect((tampered['error'] as { code: number }).code).toBe(-32602);
    const raw = await call({ inputResponses: answer, requestState: 'a-state-the-server-never-wrapped' });
    expect((raw['error'] as { message: string }).message).toMatch(/requestState was not issued for this session/);
  });
});
