/**
 * Issue 2, done-when 2 (first half): a 2026-07-28 client and a 2025-11-25 client each complete a session against
 * the dual-era test server, through serve (stdio child and URL upstream) and through wrap. Also: a closed 2026
 * response stream reaches the server as cancellation, and Mcp-Param-* headers reach an HTTP upstream.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, type McpClient, type Sdk, type Target } from '../helpers/clients.js';
import { ALLOW_ALL, freePort, isolatedEnv, NODE, ROOT, startServe, stopProcess, waitForStderr, wrapArgs, type Running } from '../helpers/cli.js';

const FIXTURE = path.join(ROOT, 'test/fixtures/dual-era-server.mjs');
let gateway: Running;
let upstream: Running;

beforeAll(async () => {
  const port = await freePort();
  const proc = spawn(NODE, [FIXTURE, 'http'], { env: { PATH: process.env['PATH'] ?? '', PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'] });
  await waitForStderr(proc, /listening on/);
  upstream = { proc, url: `http://127.0.0.1:${port}/mcp`, stderr: () => '', stop: (s) => stopProcess(proc, s) };
  gateway = await startServe(`servers:\n  dual:\n    command: ${JSON.stringify(NODE)}\n    args: [${JSON.stringify(FIXTURE)}, stdio]\n  remote:\n    url: ${upstream.url}\npolicy: [${JSON.stringify(ALLOW_ALL)}]\n`);
});

afterAll(async () => {
  await gateway?.stop();
  await upstream?.stop();
});

/** Fields that differ between the eras by design: the 2026 result envelope and cache hints. */
function sameAcrossEras(v: unknown): string {
  return JSON.stringify(v, (k, val: unknown) => (k === '_meta' || k === 'ttlMs' || k === 'cacheScope' || k === 'resultType' ? undefined : val));
}

function text(r: Record<string, unknown>): string {
  return ((r['content'] as { text?: string }[] | undefined) ?? []).map((c) => c.text ?? '').join(' ');
}

async function session(c: McpClient): Promise<Record<string, unknown>> {
  const tools = await c.listTools();
  const progress: number[] = [];
  return {
    tools: (tools['tools'] as unknown[]).length,
    simple: text(await c.callTool('test_simple_text')),
    progress: [text(await c.callTool('test_tool_with_progress', {}, { onprogress: (p) => progress.push(p.progress) })), progress.length >= 2],
    elicit: text(await c.callTool('test_input_required_result_elicitation')),
    sample: text(await c.callTool('test_input_required_result_sampling')),
    roots: text(await c.callTool('test_input_required_result_list_roots')),
    rounds: text(await c.callTool('test_input_required_result_multi_round')),
    header: text(await c.callTool('lookup', { region: 'eu-west', key: 'k1' })),
    read: sameAcrossEras(await c.readResource('test://template/42/data')),
    prompt: sameAcrossEras(await c.getPrompt('test_prompt_with_arguments', { arg1: 'a', arg2: 'b' })),
    complete: sameAcrossEras(await c.complete({ type: 'ref/prompt', name: 'test_prompt_with_arguments' }, { name: 'arg1', value: 'pa' })),
  };
}

const elicitation = (p: Record<string, unknown>) => {
  const props = Object.keys(((p['requestedSchema'] as { properties?: object })?.properties ?? {}) as object);
  return { action: 'accept', content: props.includes('color') ? { color: 'teal' } : { name: 'Ada' } };
};

const targets: [string, () => Target][] = [
  ['serve → stdio child', () => ({ kind: 'http', url: `${gateway.url}/dual/mcp` })],
  ['serve → URL upstream', () => ({ kind: 'http', url: `${gateway.url}/remote/mcp` })],
  ['wrap', () => ({ kind: 'stdio', command: NODE, args: wrapArgs('--policy', ALLOW_ALL, '--', NODE, FIXTURE, 'stdio'), env: isolatedEnv() })],
];

describe.each(targets)('%s', (_label, target) => {
  const results: Record<string, Record<string, unknown>> = {};
  for (const [sdk, era, expected] of [
    ['v1', 'legacy', '2025-11-25'],
    ['v2', 'modern', '2026-07-28'],
  ] as [Sdk, string, string][]) {
    it(`a ${expected} client completes a session (${era} era)`, async () => {
      const c = await connectClient(sdk, target(), { negotiation: 'auto', elicitation });
      try {
        expect(c.protocolVersion()).toBe(expected);
        results[sdk] = await session(c);
      } finally {
        await c.close();
      }
      expect(results[sdk]).toMatchObject({
        simple: 'This is a simple text response for testing.',
        elicit: 'Hello, Ada!',
        sample: expect.stringContaining('sampled: What is the capital of France?'),
        roots: 'Roots: file:///tmp/warden-root',
        rounds: 'Color: teal',
        header: 'k1@eu-west',
      });
      expect(results[sdk]!['progress']).toEqual(['Progress test completed', true]);
    });
  }

  it('both eras see the same results', () => {
    expect(results['v2']).toEqual(results['v1']);
  });
});

describe('2026-07-28 cancellation over HTTP', () => {
  for (const route of ['dual', 'remote']) {
    it(`closing the response stream cancels the call at the server (${route})`, async () => {
      const c = await connectClient('v2', { kind: 'http', url: `${gateway.url}/${route}/mcp` }, { negotiation: 'auto' });
      try {
        expect(c.protocolVersion()).toBe('2026-07-28');
        const before = JSON.parse(text(await c.callTool('stats'))) as { cancelled: number };
        const ac = new AbortController();
        const call = c.callTool('slow', { ms: 20_000 }, { signal: ac.signal });
        await new Promise((r) => setTimeout(r, 300));
        ac.abort();
        await expect(call).rejects.toThrow();
        let after = before;
        for (let i = 0; i < 50 && after.cancelled === before.cancelled; i++) {
          await new Promise((r) => setTimeout(r, 100));
          after = JSON.parse(text(await c.callTool('stats'))) as { cancelled: number };
        }
        expect(after.cancelled).toBe(before.cancelled + 1);
      } finally {
        await c.close();
      }
    });
  }
});
