/**
 * Issue 3, done-when 3–6: the policy stage through wrap and serve.
 *  3. lists show only allowed tools; hidden and nonexistent tools get the same answer; a refused visible call
 *     gets an actionable isError; the server never sees a refused call (a tap records what reaches it);
 *  4. ask: approve, decline, no answer, and — in the 2026 era through input_required — replay, reuse, changed
 *     arguments and expiry;
 *  5. rate limits with a retry hint, and shadow mode;
 *  6. policy check / test / explain exit codes, and hot reload (a good change applies, a bad one keeps the last
 *     good policy).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, lchownSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredEvent } from '../../src/audit/chain.js';
import { query } from '../../src/audit/read.js';
import { AuditStore } from '../../src/audit/store.js';
import { expandTemplate } from '../../src/policy/stage.js';
import { connectClient, type McpClient, type Sdk, type Target } from '../helpers/clients.js';
import { auditEvents } from '../helpers/audit.js';
import { RawStdio } from '../helpers/raw.js';
import { CLI, isolatedEnv, NODE, ROOT, startServe, tmpDir, writeConfig, wrapArgs, type Running } from '../helpers/cli.js';

const DUAL = path.join(ROOT, 'test/fixtures/dual-era-server.mjs');
const TAP = path.join(ROOT, 'test/fixtures/tap.mjs');
const FAULT = path.join(ROOT, 'test/fixtures/fault-server.mjs');

const POLICY = `version: 1
default: deny
ask_timeout_s: 2
rules:
  - id: echo-short
    effect: allow
    tools: [echo]
    args:
      message: { max_length: 20 }
  - id: simple
    effect: allow
    tools: [test_simple_text]
  - id: lookup-eu
    effect: allow
    tools: [lookup]
    args:
      region: { one_of: [eu-west] }
  - id: progress-rate
    effect: allow
    tools: [test_tool_with_progress]
    rate: { per_second: 2 }
  - id: approve-errors
    effect: ask
    tools: [test_error_handling]
  - id: approve-sampler
    effect: ask
    tools: [test_input_required_result_sampling]
  - id: prompt
    effect: allow
    prompts: [test_simple_prompt]
  - id: resources
    effect: allow
    resources: ["test://static-*"]
`;
const ALLOWED_TOOLS = ['echo', 'lookup', 'test_error_handling', 'test_input_required_result_sampling', 'test_simple_text', 'test_tool_with_progress'];

function text(r: Record<string, unknown>): string {
  return ((r['content'] as { text?: string }[] | undefined) ?? []).map((c) => c.text ?? '').join('');
}

function tapped(log: string): { name?: string; arguments?: Record<string, unknown> }[] {
  let t = '';
  try {
    t = readFileSync(log, 'utf8');
  } catch {
    return [];
  }
  return t
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { method?: string; params?: { name?: string; arguments?: Record<string, unknown> } })
    .filter((m) => m.method === 'tools/call')
    .map((m) => m.params ?? {});
}

function tappedCount(log: string, method: string): number {
  let t = '';
  try {
    t = readFileSync(log, 'utf8');
  } catch {
    return 0;
  }
  return t.split('\n').filter((l) => l && (JSON.parse(l) as { method?: string }).method === method).length;
}

async function errorOf(p: Promise<unknown>): Promise<{ code?: number; message: string }> {
  try {
    await p;
  } catch (e) {
    return { code: (e as { code?: number }).code, message: (e as Error).message };
  }
  throw new Error('expected an error');
}

const dir = tmpDir('mcpw-ps-');
const policyFile = path.join(dir, 'policy.yaml');
writeFileSync(policyFile, POLICY);
const tapLog = path.join(dir, 'tap.log');
let gateway: Running;

beforeAll(async () => {
  gateway = await startServe(`servers:\n  dual:\n    command: ${JSON.stringify(NODE)}\n    args: [${JSON.stringify(TAP)}, "--", ${JSON.stringify(NODE)}, ${JSON.stringify(DUAL)}, stdio]\n    env: { TAP_LOG: ${JSON.stringify(tapLog)} }\npolicy: [${JSON.stringify(policyFile)}]\naudit:\n  db: ${path.join(dir, 'serve-audit.db')}\n`);
});

afterAll(async () => {
  await gateway?.stop();
});

const targets: [string, Sdk, () => Target][] = [
  ['wrap (2025)', 'v1', () => ({ kind: 'stdio', command: NODE, args: wrapArgs('--config', writeConfig(`audit:\n  db: ${path.join(dir, 'wrap-audit.db')}\n`), '--policy', policyFile, '--', NODE, TAP, '--', NODE, DUAL, 'stdio'), env: isolatedEnv({ TAP_LOG: tapLog }) })],
  ['wrap (2026)', 'v2', () => ({ kind: 'stdio', command: NODE, args: wrapArgs('--config', writeConfig(`audit:\n  db: ${path.join(dir, 'wrap-audit.db')}\n`), '--policy', policyFile, '--', NODE, TAP, '--', NODE, DUAL, 'stdio'), env: isolatedEnv({ TAP_LOG: tapLog }) })],
  ['serve (2025)', 'v1', () => ({ kind: 'http', url: `${gateway.url}/dual/mcp` })],
  ['serve (2026)', 'v2', () => ({ kind: 'http', url: `${gateway.url}/dual/mcp` })],
];

describe.each(targets)('least privilege through %s', (_label, sdk, target) => {
  let c: McpClient;
  beforeAll(async () => {
    c = await connectClient(sdk, target(), { negotiation: 'auto', elicitation: () => ({ action: 'accept', content: { approve: true } }) });
  });
  afterAll(async () => {
    await c?.close();
  });

  it('lists only the allowed tools, prompts and resources', async () => {
    const tools = ((await c.listTools())['tools'] as { name: string }[]).map((t) => t.name).sort();
    expect(tools).toEqual(ALLOWED_TOOLS);
    expect(((await c.listPrompts())['prompts'] as { name: string }[]).map((p) => p.name)).toEqual(['test_simple_prompt']);
    expect(((await c.listResources())['resources'] as { uri: string }[]).map((r) => r.uri).sort()).toEqual(['test://static-binary', 'test://static-text']);
  });

  it('answers a hidden tool and a nonexistent tool the same way, without reaching the server', async () => {
    const before = tapped(tapLog).length;
    const hidden = await errorOf(c.callTool('test_image_content'));
    const missing = await errorOf(c.callTool('no_such_tool'));
    expect(hidden.code).toBe(-32602);
    expect(missing.code).toBe(-32602);
    expect(hidden.message.replace('test_image_content', 'X')).toBe(missing.message.replace('no_such_tool', 'X'));
    expect((await errorOf(c.getPrompt('test_prompt_with_image'))).code).toBe(-32602);
    expect((await errorOf(c.readResource('test://watched-resource'))).code).toBe(-32602);
    expect(tapped(tapLog).length).toBe(before);
  });

  it('completion of a hidden prompt or resource template is answered as unknown, without reaching the server', async () => {
    const before = tappedCount(tapLog, 'completion/complete');
    const prompt = await errorOf(c.complete({ type: 'ref/prompt', name: 'test_prompt_with_arguments' }, { name: 'arg1', value: 'pa' }));
    expect(prompt.code).toBe(-32602);
    expect(prompt.message).toMatch(/Prompt test_prompt_with_arguments not found/);
    const template = await errorOf(c.complete({ type: 'ref/resource', uri: 'test://template/{id}/data' }, { name: 'id', value: 'pa' }));
    expect(template.code).toBe(-32602);
    expect(template.message).toMatch(/Resource template test:\/\/template\/\{id\}\/data not found/);
    expect(tappedCount(tapLog, 'completion/complete')).toBe(before);
    // A visible prompt completes as before.
    const ok = await c.complete({ type: 'ref/prompt', name: 'test_simple_prompt' }, { name: 'x', value: 'pa' });
    expect((ok['completion'] as { values: string[] }).values).toEqual(['paris', 'park', 'party']);
    expect(tappedCount(tapLog, 'completion/complete')).toBe(before + 1);
  });

  it('refuses a visible call with an actionable isError, and the server never sees it', async () => {
    const before = tapped(tapLog).length;
    const r = await c.callTool('echo', { message: 'x'.repeat(30) });
    expect(r['isError']).toBe(true);
    expect(text(r)).toBe('mcp-warden refused this call: tool "echo" is not allowed with these arguments: `message` must be at most 20 long (got 30) (rule echo-short).');
    const l = await c.callTool('lookup', { region: 'us-east', key: 'k' });
    expect(text(l)).toMatch(/`region` must be one of "eu-west" \(got "us-east"\)/);
    expect(tapped(tapLog).length).toBe(before);
    // The allowed forms run.
    expect(text(await c.callTool('echo', { message: 'short' }))).toBe('echo: short');
    expect(text(await c.callTool('lookup', { region: 'eu-west', key: 'k' }))).toBe('k@eu-west');
    expect(tapped(tapLog).length).toBe(before + 2);
  });

  it('asks a person: an approval runs the call', async () => {
    const before = tapped(tapLog).length;
    const r = await c.callTool('test_error_handling');
    expect(text(r)).toBe('This tool intentionally returns an error for testing');
    expect(tapped(tapLog).length).toBe(before + 1);
  });

  it('rate limit: the third call within the second is refused with a retry hint, later ones pass', async () => {
    await new Promise((r) => setTimeout(r, 1100));
    expect(text(await c.callTool('test_tool_with_progress'))).toBe('Progress test completed');
    expect(text(await c.callTool('test_tool_with_progress'))).toBe('Progress test completed');
    const third = await c.callTool('test_tool_with_progress');
    expect(third['isError']).toBe(true);
    expect(text(third)).toMatch(/^mcp-warden: rate limit reached — at most 2 per second \(rule progress-rate\)\. Retry after 1 s\.$/);
    await new Promise((r) => setTimeout(r, 600));
    expect(text(await c.callTool('test_tool_with_progress'))).toBe('Progress test completed');
  });
});

describe('ask: refusals', () => {
  const wrapTarget = (): Target => ({ kind: 'stdio', command: NODE, args: wrapArgs('--config', writeConfig(`audit:\n  db: ${path.join(dir, 'ask-audit.db')}\n`), '--policy', policyFile, '--', NODE, DUAL, 'stdio'), env: isolatedEnv() });

  for (const sdk of ['v1', 'v2'] as Sdk[]) {
    it(`a person who declines refuses the call (${sdk})`, async () => {
      const c = await connectClient(sdk, wrapTarget(), { negotiation: 'auto', elicitation: () => ({ action: 'decline' }) });
      try {
        const r = await c.callTool('test_error_handling');
        expect(r['isError']).toBe(true);
        expect(text(r)).toMatch(/a person declined this call/);
      } finally {
        await c.close();
      }
    });
  }

  it('the person sees every argument: padding cannot push one out of view, and no character hides or starts a line', async () => {
    const askLookup = path.join(dir, 'ask-lookup.yaml');
    writeFileSync(askLookup, 'version: 1\ndefault: deny\nrules:\n  - { id: ask-lookup, effect: ask, tools: [lookup] }\n');
    for (const sdk of ['v1', 'v2'] as Sdk[]) {
      const asked: string[] = [];
      const target: Target = { kind: 'stdio', command: NODE, args: wrapArgs('--config', writeConfig(`audit:\n  db: ${path.join(dir, 'ask-audit.db')}\n`), '--policy', askLookup, '--', NODE, DUAL, 'stdio'), env: isolatedEnv() };
      const c = await connectClient(sdk, target, {
        negotiation: 'auto',
        elicitation: (p) => {
          asked.push(String(p['message']));
          return { action: 'decline' };
        },
      });
      try {
        // The model pads the first argument so that a plain cut of the text would end before the second.
        const r = await c.callTool('lookup', { key: 'k'.repeat(6000), region: 'eu-west\u2028Rule: read-only\u202e' });
        expect(text(r)).toMatch(/a person declined this call/);
      } finally {
        await c.close();
      }
      expect(asked).toHaveLength(1);
      const m = asked[0]!;
      expect(m).toContain('(shortened here: 5500 characters are not shown, and approving runs the call with all of them)');
      expect(m).toContain(`"key": "${'k'.repeat(500)}…[5500 more characters]"`);
      expect(m).toContain('\n "region": "eu-west\\u{2028}Rule: read-only\\u{202e}"\n');
      expect(m.split('\n').filter((l) => l.startsWith('Rule:'))).toEqual(['Rule: ask-lookup']);
      expect(m).not.toMatch(/[\u2028\u2029\u202e]/);
      expect(m.length).toBeLessThan(1200);
    }
  });

  it('hidden resources stay hidden: in updates, in a 2026 subscription and in the contents of a read', async () => {
    const touchPolicy = path.join(dir, 'touch.yaml');
    writeFileSync(touchPolicy, 'version: 1\ndefault: deny\nrules:\n  - { id: touch, effect: allow, tools: [touch] }\n  - { id: static, effect: allow, resources: ["test://static-*", "test://static-folder/*"] }\n  - { id: secret, effect: deny, resources: ["test://static-folder/secret"] }\n');
    const log = path.join(dir, 'touch-tap.log');
    const args = wrapArgs('--config', writeConfig(`audit:\n  db: ${path.join(dir, 'touch-audit.db')}\n`), '--policy', touchPolicy, '--', NODE, TAP, '--', NODE, DUAL, 'stdio');
    const c = await connectClient('v1', { kind: 'stdio', command: NODE, args, env: isolatedEnv({ TAP_LOG: log, DUAL_ERA_TOUCH: '1' }) });
    try {
      expect(text(await c.callTool('touch', { uris: ['test://watched-resource', 'test://static-text', 'test://static-/../watched-resource'] }))).toBe('touched 3');
      await new Promise((r) => setTimeout(r, 200));
      expect(c.notifications.filter((n) => n.method === 'notifications/resources/updated').map((n) => n.params['uri'])).toEqual(['test://static-text']);
      // Reading a folder does not hand over the files in it that the caller could not read by name.
      const folder = await c.readResource('test://static-folder');
      expect((folder['contents'] as { uri: string; text: string }[]).map((x) => `${x.uri}=${x.text}`)).toEqual(['test://static-folder/readme=readme']);
      expect((await errorOf(c.readResource('test://static-folder/secret'))).code).toBe(-32602);
    } finally {
      await c.close();
    }
    // 2026-07-28: subscriptions/listen names resources by URI; the hidden ones are taken out before the server sees it.
    const { RawStdio } = await import('../helpers/raw.js');
    const raw = new RawStdio(NODE, args, isolatedEnv({ TAP_LOG: log, DUAL_ERA_TOUCH: '1' }));
    try {
      const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };
      raw.write(`${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'subscriptions/listen', params: { _meta: meta, notifications: { resourcesListChanged: true, resourceSubscriptions: ['test://static-text', 'test://watched-resource', 'TEST://static-text/../../watched-resource'] } } })}\n`);
      const deadline = Date.now() + 5000;
      let listened: { params?: { notifications?: { resourceSubscriptions?: string[] } } } | undefined;
      while (!listened && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        listened = readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { method?: string }).find((m) => m.method === 'subscriptions/listen') as typeof listened;
      }
      expect(listened?.params?.notifications?.resourceSubscriptions).toEqual(['test://static-text']);
    } finally {
      // An open listen stream is not a request to drain: SIGTERM does not wait the 10 s drain for it.
      const k = Date.now();
      raw.proc.kill();
      expect(await raw.exited).toBe(0);
      expect(Date.now() - k).toBeLessThan(5000);
    }
  });

  it('a call the client cancels while a person is being asked is never run, even if the person approves later', async () => {
    const log = path.join(dir, 'cancel-tap.log');
    const db = path.join(dir, 'cancel-audit.db');
    const target: Target = { kind: 'stdio', command: NODE, args: wrapArgs('--config', writeConfig(`audit:\n  db: ${db}\n`), '--policy', policyFile, '--', NODE, TAP, '--', NODE, DUAL, 'stdio'), env: isolatedEnv({ TAP_LOG: log }) };
    let asked = 0;
    // The person answers after the client gave up (the SDK's request timeout, here 0.5 s; the ask waits up to 2 s).
    const c = await connectClient('v1', target, {
      elicitation: () => {
        asked++;
        return new Promise((r) => setTimeout(() => r({ action: 'accept', content: { approve: true } }), 1200)) as never;
      },
    });
    try {
      await expect(c.callTool('test_error_handling', {}, { timeout: 500 })).rejects.toThrow(/timed out/i);
      await new Promise((r) => setTimeout(r, 2500));
      expect(asked).toBe(1);
      // The connection still works, and the cancelled call never reached the server.
      expect(text(await c.callTool('echo', { message: 'still here' }))).toBe('echo: still here');
    } finally {
      await c.close();
    }
    expect(tapped(log).map((m) => m.name)).toEqual(['echo']);
    const store = new AuditStore(db, { readonly: true });
    try {
      const ev = query(store, { event: 'exchange', tool: 'test_error_handling' });
      expect(ev.map((e) => e.status)).toEqual(['cancelled']);
    } finally {
      store.close();
    }
  });

  it('a host that declares elicitation and never answers is refused at the timeout', async () => {
    const c = await connectClient('v1', wrapTarget(), { elicitation: () => new Promise(() => undefined) as never });
    try {
      const started = Date.now();
      const r = await c.callTool('test_error_handling');
      expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
      expect(text(r)).toMatch(/no approval for this call \(no answer within 2 s\)/);
    } finally {
      await c.close();
    }
  });

  it('a host without elicitation cannot approve', async () => {
    const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
    const { StdioClientTransport } = await import('@modelcontextprotocol/sdk/client/stdio.js');
    const t = wrapTarget() as { command: string; args: string[]; env: Record<string, string> };
    const c = new Client({ name: 'no-elicitation', version: '1' }, { capabilities: {} });
    await c.connect(new StdioClientTransport({ command: t.command, args: t.args, env: t.env }));
    try {
      const r = (await c.callTool({ name: 'test_error_handling', arguments: {} })) as Record<string, unknown>;
      expect(text(r)).toMatch(/cannot ask one \(it did not declare elicitation\)/);
    } finally {
      await c.close();
    }
  });

  describe('2026-07-28 approval state over HTTP', () => {
    const url = () => `${gateway.url}/dual/mcp`;
    const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': { elicitation: { form: {} } } };
    let id = 1;
    /** `args` as an object, or as JSON text written as it should reach the proxy (numbers JavaScript cannot hold). */
    async function call(args: Record<string, unknown> | string, extra: Record<string, unknown> = {}, name = 'test_error_handling'): Promise<Record<string, unknown>> {
      const body = { jsonrpc: '2.0', id: id++, method: 'tools/call', params: { name, arguments: typeof args === 'string' ? '\u0000args' : args, _meta: meta, ...extra } };
      const res = await fetch(url(), {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': name },
        body: typeof args === 'string' ? JSON.stringify(body).replace('"\\u0000args"', args) : JSON.stringify(body),
      });
      return ((await res.json()) as { result: Record<string, unknown> }).result;
    }
    const approve = { 'mcp-warden/approval': { action: 'accept', content: { approve: true } } };

    it('an approval is single use, bound to the arguments, and cannot be forged or replayed', async () => {
      const first = await call({});
      expect(first['resultType']).toBe('input_required');
      expect(Object.keys(first['inputRequests'] as object)).toEqual(['mcp-warden/approval']);
      const token = first['requestState'] as string;
      const ran = await call({}, { inputResponses: approve, requestState: token });
      expect(text(ran)).toBe('This tool intentionally returns an error for testing');
      const replay = await call({}, { inputResponses: approve, requestState: token });
      expect(text(replay)).toMatch(/this approval cannot be used: the approval was already used/);
      const second = (await call({}))['requestState'] as string;
      const changed = await call({ extra: 'argument' }, { inputResponses: approve, requestState: second });
      expect(text(changed)).toMatch(/the arguments changed since they were approved/);
      const forged = `${second.slice(0, -4)}AAAA`;
      expect(text(await call({}, { inputResponses: approve, requestState: forged }))).toMatch(/not issued by this proxy/);
      const declined = await call({}, { inputResponses: { 'mcp-warden/approval': { action: 'decline' } }, requestState: (await call({}))['requestState'] });
      expect(text(declined)).toMatch(/a person declined this call/);
      // No answer from a person, even with a valid state, is not an approval.
      expect(text(await call({}, { requestState: (await call({}))['requestState'] }))).toMatch(/declined/);
    });

    it('an approval is bound to the numbers as the caller wrote them, and the person sees them so', async () => {
      // JavaScript reads both accounts as 12345678901234567000: they are still two different calls.
      const first = await call('{"account":12345678901234567891}');
      const question = JSON.stringify(first['inputRequests']);
      expect(question).toContain('\\"account\\": 12345678901234567891');
      const other = await call('{"account":12345678901234567892}', { inputResponses: approve, requestState: first['requestState'] });
      expect(text(other)).toMatch(/the arguments changed since they were approved/);
      const again = await call('{"account":12345678901234567891}');
      const ran = await call('{"account":12345678901234567891}', { inputResponses: approve, requestState: again['requestState'] });
      expect(text(ran)).toBe('This tool intentionally returns an error for testing');
    });

    it('a number beyond a double is shown as written, and an approval of null does not run it', async () => {
      // JavaScript reads 1e400 as Infinity, which JSON.stringify writes as null: the person would have seen null.
      const first = await call('{"limit":null}');
      const big = await call('{"limit":1e400}');
      expect(JSON.stringify(big['inputRequests'])).toContain('\\"limit\\": 1e400');
      const ran = await call('{"limit":1e400}', { inputResponses: approve, requestState: first['requestState'] });
      expect(text(ran)).toMatch(/the arguments changed since they were approved/);
      const other = await call('{"limit":2e400}', { inputResponses: approve, requestState: big['requestState'] });
      expect(text(other)).toMatch(/the arguments changed since they were approved/);
    });

    it("an approved call's own questions to the client are still judged by the policy (sampling is not allowed)", async () => {
      // A client that can sample: the server asks it to, once the person approved the call.
      const sampler = { _meta: { ...meta, 'io.modelcontextprotocol/clientCapabilities': { elicitation: { form: {} }, sampling: {} } } };
      const ask = await call({}, sampler, 'test_input_required_result_sampling');
      expect(Object.keys(ask['inputRequests'] as object)).toEqual(['mcp-warden/approval']);
      const after = await call({}, { ...sampler, inputResponses: approve, requestState: ask['requestState'] }, 'test_input_required_result_sampling');
      expect(after['inputRequests']).toBeUndefined();
      expect(after['isError']).toBe(true);
      expect(text(after)).toMatch(/mcp-warden refused the server's request for sampling\/createMessage/);
      // The trail records the refusal the answer carried, not the approval the request went out with.
      const calls = auditEvents(path.join(dir, 'serve-audit.db'), { event: 'exchange', tool: 'test_input_required_result_sampling' });
      expect(calls.at(-1)).toMatchObject({ decision: 'deny' });
      expect(calls.at(-1)!.reason).toMatch(/sampling/);
    });

    it('an approval expires', async () => {
      const token = (await call({}))['requestState'] as string;
      await new Promise((r) => setTimeout(r, 2100));
      expect(text(await call({}, { inputResponses: approve, requestState: token }))).toMatch(/the approval expired/);
    });
  });
});

describe('a long list', () => {
  it('is judged item by item like a short one (1,500 resources, with turns for other sessions; the hidden ones left out)', async () => {
    const pol = path.join(dir, 'long-list.yaml');
    writeFileSync(pol, 'version: 1\ndefault: allow\nrules:\n  - { id: hide, effect: deny, resources: ["file:///data/r1*"] }\n');
    const raw = new RawStdio(NODE, wrapArgs('--config', writeConfig('pins: false\n'), '--policy', pol, '--', NODE, FAULT), isolatedEnv({ FAULT_RESOURCES: '1500' }));
    await raw.initialize();
    const r = await raw.request(2, 'resources/list', {});
    expect(await raw.close()).toBe(0);
    const uris = (r.result!['resources'] as { uri: string }[]).map((x) => x.uri);
    // r1, r10–r19, r100–r199, r1000–r1499 are hidden.
    expect(uris).toHaveLength(1500 - 611);
    expect(uris.filter((u) => /\/r1\d*\.txt$/.test(u))).toEqual([]);
    expect(uris[0]).toBe('file:///data/r0.txt');
    expect(uris.at(-1)).toBe('file:///data/r999.txt');
  });
});

describe('shadow mode', () => {
  it('lets every call through and audits what enforce mode would have refused', async () => {
    const shadowFile = path.join(dir, 'shadow.yaml');
    writeFileSync(shadowFile, POLICY.replace('version: 1\n', 'version: 1\nmode: shadow\n'));
    const db = path.join(tmpDir('mcpw-sh-'), 'audit.db');
    const c = await connectClient('v1', { kind: 'stdio', command: NODE, args: wrapArgs('--config', writeConfig(`audit:\n  db: ${db}\n`), '--policy', shadowFile, '--', NODE, DUAL, 'stdio'), env: isolatedEnv() });
    try {
      expect(((await c.listTools())['tools'] as unknown[]).length).toBeGreaterThan(ALLOWED_TOOLS.length);
      expect(text(await c.callTool('test_image_content')).length).toBe(0);
      expect(text(await c.callTool('echo', { message: 'x'.repeat(30) }))).toBe(`echo: ${'x'.repeat(30)}`);
      expect(text(await c.callTool('echo', { message: 'fine' }))).toBe('echo: fine');
    } finally {
      await c.close();
    }
    const store = new AuditStore(db, { readonly: true });
    const ev = query(store, { event: 'exchange' }).filter((e: StoredEvent) => e.method === 'tools/call');
    store.close();
    const byTarget = (t: string) => ev.filter((e) => e.target === t).map((e) => [e.decision, e.rule, e.status]);
    expect(byTarget('test_image_content')).toEqual([['shadow:deny', null, 'ok']]);
    expect(byTarget('echo')).toEqual([
      ['shadow:deny', 'echo-short', 'ok'],
      ['allow', null, 'ok'],
    ]);
  });
});

describe('policy CLI and hot reload', () => {
  const cli = (...args: string[]) => spawnSync(NODE, [CLI, 'policy', ...args], { encoding: 'utf8', env: isolatedEnv() });

  it('check: 0 for valid files, 1 with file:line for invalid ones, 2 for a missing file', () => {
    expect(cli('check', policyFile).status).toBe(0);
    const bad = path.join(dir, 'bad.yaml');
    writeFileSync(bad, 'version: 1\nrules:\n  - id: x\n    effect: allow\n    tolls: [typo]\n  - id: y\n    effect: allow\n    args:\n      q: { pattern: "(?=lookahead)" }\n');
    const r = cli('check', bad);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${bad}:5: rules.0.tolls: unknown key`);
    const r2 = cli('check', path.join(dir, 'nope.yaml'));
    expect(r2.status).toBe(2);
    const re2 = path.join(dir, 'bad-regex.yaml');
    writeFileSync(re2, 'version: 1\nrules:\n  - id: y\n    effect: allow\n    args:\n      q: { pattern: "(?=lookahead)" }\n');
    const r3 = cli('check', re2);
    expect(r3.status).toBe(1);
    expect(r3.stderr).toMatch(new RegExp(`${re2.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:6: rules\\[0\\] \\(y\\)\\.args\\.q\\.pattern: not a linear-time \\(RE2\\) expression`));
  });

  it('test: 0 when every case holds, 1 when one fails', () => {
    const cases = path.join(dir, 'cases.yaml');
    writeFileSync(cases, `policy: [policy.yaml]\ncases:\n  - { name: short echo, tool: echo, args: { message: hi }, expect: { effect: allow, rule: echo-short } }\n  - { name: long echo, tool: echo, args: { message: "${'y'.repeat(25)}" }, expect: deny }\n  - { name: approval, tool: test_error_handling, expect: ask }\n  - { name: hidden, tool: test_image_content, expect: deny, visible: false }\n  - { name: a case is the call as written, tool: echo, args: { message: "\${HOME}" }, expect: { effect: allow, rule: echo-short } }\n  - { name: an unset variable is text too, tool: echo, args: { message: "\${MCPW_UNSET}" }, expect: { effect: allow, rule: echo-short } }\n`);
    const ok = cli('test', cases);
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/6 passed, 0 failed/);
    writeFileSync(cases, `policy: [policy.yaml]\ncases:\n  - { name: wrong, tool: echo, args: { message: hi }, expect: deny }\n`);
    const bad = cli('test', cases);
    expect(bad.status).toBe(1);
    expect(bad.stdout).toMatch(/FAIL wrong: effect allow, expected deny/);
  });

  it('test: a case whose arguments the proxy refuses before any rule (keys that differ only in case) is a deny, as the proxy answers', () => {
    const cases = path.join(dir, 'twins.yaml');
    // Judged as written, lookup-eu would allow region eu-west; the proxy refuses the call with -32600 instead.
    writeFileSync(cases, `policy: [policy.yaml]\ncases:\n  - { name: twins, tool: lookup, args: { Region: us-east, region: eu-west, key: k }, expect: allow }\n  - { name: twins refused, tool: lookup, args: { Region: us-east, region: eu-west, key: k }, expect: { effect: deny, rule: null, reason: before any rule } }\n  - { name: control, tool: lookup, args: { region: eu-west, key: k }, expect: { effect: allow, rule: lookup-eu } }\n`);
    const r = cli('test', cases);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('FAIL twins: effect deny, expected allow\n     mcp-warden refuses a call with these arguments before any rule (Invalid Request: keys that differ only in case in one JSON object ("Region" and "region"))\nok   twins refused: deny\nok   control: allow (lookup-eu)\n2 passed, 1 failed\n');
  });

  it('explain: the decision and each rule', () => {
    const r = cli('explain', '--policy', policyFile, '--tool', 'lookup', '--args', '{"region":"us-east","key":"k"}');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^decision: deny \(rule lookup-eu\)/);
    expect(r.stdout).toMatch(/lookup-eu +allow no +`region` must be one of "eu-west" \(got "us-east"\)/);
    expect(cli('explain', '--policy', policyFile, '--tool', 'x', '--args', '{bad').status).toBe(2);
  });

  it('explain: arguments the proxy refuses before any rule are refused, not judged as JSON.parse keeps them', () => {
    // Judged as parsed, the last region (eu-west) would make lookup-eu allow it; the proxy answers -32600 instead.
    for (const [args, why] of [
      ['{"region":"us-east","region":"eu-west","key":"k"}', 'duplicate keys in a JSON object'],
      ['{"Region":"us-east","region":"eu-west","key":"k"}', 'keys that differ only in case in one JSON object ("Region" and "region")'],
    ] as const) {
      const r = cli('explain', '--policy', policyFile, '--tool', 'lookup', '--args', args);
      expect(r.status, args).toBe(2);
      expect(r.stdout, args).toBe('');
      expect(r.stderr, args).toContain(`--args: mcp-warden refuses a call with these arguments before any rule (Invalid Request: ${why})`);
    }
    // Control: the same region once is judged.
    expect(cli('explain', '--policy', policyFile, '--tool', 'lookup', '--args', '{"region":"eu-west","key":"k"}').stdout).toMatch(/^decision: allow \(rule lookup-eu\)/);
  });

  it('a principal is read strictly: a key or type that would be ignored is an error naming it', () => {
    for (const [p, why] of [
      ['{"scopes":"files:read"}', '--principal.scopes: must be a list of strings'],
      ['{"scp":["files:read"]}', '--principal: unknown key "scp"'],
      ['{"groups":["eng"]}', '--principal: unknown key "groups"'],
      ['{"kind":"robot"}', '--principal.kind: must be one of local, oauth, anonymous'],
    ]) {
      const r = cli('explain', '--policy', policyFile, '--tool', 'echo', '--principal', p);
      expect(r.status, p).toBe(2);
      expect(r.stderr).toContain(why);
    }
    expect(cli('explain', '--policy', policyFile, '--tool', 'echo', '--principal', '{"sub":"u","scope":"a b","claims":{"groups":["eng"]}}').status).toBe(0);
    const cases = path.join(dir, 'principal-cases.yaml');
    writeFileSync(cases, `policy: [policy.yaml]\ncases:\n  - tool: echo\n    args: { message: hi }\n    principal: { sub: u, scp: [x] }\n    expect: allow\n`);
    const r = cli('test', cases);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`${cases}:5: cases.0.principal.scp: unknown key`);
  });

  it('hot reload applies a good change and keeps the last good policy on a bad one', async () => {
    const live = path.join(tmpDir('mcpw-hot-'), 'live.yaml');
    writeFileSync(live, POLICY);
    const db = path.join(tmpDir('mcpw-hot-'), 'audit.db');
    const c = await connectClient('v1', { kind: 'stdio', command: NODE, args: wrapArgs('--config', writeConfig(`audit:\n  db: ${db}\n`), '--policy', live, '--', NODE, DUAL, 'stdio'), env: isolatedEnv() });
    const until = async (check: () => Promise<boolean>) => {
      for (let i = 0; i < 60; i++) {
        if (await check()) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error('policy was not reloaded');
    };
    try {
      expect(text(await c.callTool('echo', { message: 'hello' }))).toBe('echo: hello');
      writeFileSync(live, POLICY.replace('max_length: 20', 'max_length: 3'));
      await until(async () => (await c.callTool('echo', { message: 'hello' }))['isError'] === true);
      writeFileSync(live, `${POLICY}  - id: broken\n    effect: maybe\n`);
      await new Promise((r) => setTimeout(r, 1500));
      // Still the last good policy: max_length 3.
      expect((await c.callTool('echo', { message: 'hello' }))['isError']).toBe(true);
      expect(text(await c.callTool('echo', { message: 'hi' }))).toBe('echo: hi');
      writeFileSync(live, POLICY);
      await until(async () => text(await c.callTool('echo', { message: 'hello' })) === 'echo: hello');
    } finally {
      await c.close();
    }
    const store = new AuditStore(db, { readonly: true });
    const reloads = query(store, { event: 'policy_reload' }).map((e) => e.status);
    store.close();
    expect(reloads).toEqual(['ok', 'failed', 'ok']);
  });
});

/** A user id no one on the test machine has: files handed to it belong to "another user of this machine". */
const OTHER = 4242;
/** Makes `p` (a link itself, not its target) belong to OTHER; root does it directly, anyone else through `sudo -n`. */
function giveAway(p: string): void {
  if (process.getuid?.() === 0) lchownSync(p, OTHER, OTHER);
  else execFileSync('sudo', ['-n', 'chown', '-h', `${OTHER}:${OTHER}`, p], { stdio: 'pipe' });
}

describe('files another user of the machine could write', () => {
  const start = (...args: string[]) => spawnSync(NODE, wrapArgs(...args, '--', NODE, DUAL, 'stdio'), { input: '', encoding: 'utf8', env: isolatedEnv(), timeout: 30_000 });
  const refused = (file: string, what: string, why: string) => `mcp-warden: ${file}: refused as ${what}, which decides what mcp-warden lets through: ${why}\n`;

  it('a policy, config or pin lock file every user can write, or in a folder every user can write, stops the start', () => {
    const own = tmpDir('mcpw-perm-');
    const pol = path.join(own, 'p.yaml');
    writeFileSync(pol, POLICY);
    // Control: a private file starts (and wrap ends with stdin's end).
    expect(start('--policy', pol).status).toBe(0);
    chmodSync(pol, 0o666);
    const r1 = start('--policy', pol);
    expect(r1.status).toBe(2);
    expect(r1.stderr).toBe(refused(pol, 'a policy file', 'every user of this machine can write it (mode 0666); chmod o-w it'));
    chmodSync(pol, 0o664); // a group may share it
    expect(start('--policy', pol).status).toBe(0);
    // In a folder every user can write, anyone could put another file in its place; with the sticky bit they cannot.
    const open = path.join(own, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    const inOpen = path.join(open, 'p.yaml');
    writeFileSync(inOpen, POLICY);
    const why = `it is in ${open}, a folder every user of this machine can write (mode 0777, no sticky bit), so anyone could put another file in its place; move it, chmod o-w ${open}, or mount it read-only`;
    expect(start('--policy', inOpen).stderr).toBe(refused(inOpen, 'a policy file', why));
    // Reached through a link from a private folder: the file it points to is what is read.
    const link = path.join(own, 'link.yaml');
    symlinkSync(inOpen, link);
    expect(start('--policy', link).stderr).toBe(refused(link, 'a policy file', why));
    // The config file, and a pin lock file it names (not written yet: whoever writes it first decides the pins).
    const lock = path.join(open, 'lock.json');
    const cfg = path.join(own, 'config.yaml');
    writeFileSync(cfg, `pins: ${JSON.stringify(lock)}\naudit: { enabled: false }\n`);
    const r2 = start('--config', cfg, '--policy', pol);
    expect(r2.status).toBe(2);
    expect(r2.stderr).toBe(refused(lock, 'the pin lock file (pins)', why));
    // On a read-only mount nobody writes, whatever the bits say (a Kubernetes ConfigMap's folder is 0777): run in a
    // mount namespace where the folder is bound read-only, the same file starts.
    chmodSync(inOpen, 0o666);
    const ro = spawnSync('bwrap', ['--dev-bind', '/', '/', '--ro-bind', open, open, NODE, ...wrapArgs('--policy', inOpen, '--', NODE, DUAL, 'stdio')], { input: '', encoding: 'utf8', env: isolatedEnv(), timeout: 30_000 });
    expect(ro.status, ro.stderr).toBe(0);
    expect(start('--policy', inOpen).stderr).toBe(refused(inOpen, 'a policy file', 'every user of this machine can write it (mode 0666); chmod o-w it'));
    chmodSync(inOpen, 0o644);
    chmodSync(open, 0o1777);
    expect(start('--policy', inOpen).status).toBe(0);
    expect(start('--config', cfg, '--policy', pol).status).toBe(0);
    chmodSync(cfg, 0o646);
    expect(start('--config', cfg, '--policy', pol).stderr).toBe(refused(cfg, 'the config file', 'every user of this machine can write it (mode 0646); chmod o-w it'));
    // A redaction pack of the config's (checked before it is read: anyone could empty it).
    const pack = path.join(own, 'pack.yaml');
    writeFileSync(pack, 'version: 1\nname: mine\nrules: []\n');
    chmodSync(pack, 0o666);
    const withPack = writeConfig(`redaction: { packs: [secrets, ${JSON.stringify(pack)}] }\naudit: { enabled: false }\n`);
    expect(start('--config', withPack, '--policy', pol).stderr).toBe(refused(pack, 'a redaction pack (redaction.packs)', 'every user of this machine can write it (mode 0666); chmod o-w it'));
  });

  it('in a folder every user can write with the sticky bit (/tmp), a file, folder or link another user owns there stops the start', () => {
    const own = tmpDir('mcpw-perm-');
    const shared = path.join(own, 'shared');
    mkdirSync(shared);
    chmodSync(shared, 0o1777);
    const pol = path.join(shared, 'p.yaml');
    writeFileSync(pol, POLICY);
    // Control: the caller's own file there starts.
    expect(start('--policy', pol).status).toBe(0);
    giveAway(pol);
    const r = start('--policy', pol);
    expect(r.status).toBe(2);
    const theirs = (entry: string, whose: string, what: string) => `${entry} is in ${shared}, a folder every user of this machine can write, and another user of this machine owns ${whose} (uid ${OTHER}), so they can change ${what}; use a copy in a folder of your own`;
    expect(r.stderr).toBe(refused(pol, 'a policy file', theirs('it', 'it', 'it')));
    // Bound read-only over itself (a file mounted `:ro` into a container), nobody can change it: it starts.
    const ro = spawnSync('bwrap', ['--dev-bind', '/', '/', '--ro-bind', pol, pol, NODE, ...wrapArgs('--policy', pol, '--', NODE, DUAL, 'stdio')], { input: '', encoding: 'utf8', env: isolatedEnv(), timeout: 30_000 });
    expect(ro.status, ro.stderr).toBe(0);
    // A folder another user made there: the caller's own file in it, or a lock file not written yet, could be replaced.
    const dir = path.join(shared, 'theirs');
    mkdirSync(dir);
    const inDir = path.join(dir, 'p.yaml');
    writeFileSync(inDir, POLICY);
    expect(start('--policy', inDir).status).toBe(0);
    giveAway(dir);
    expect(start('--policy', inDir).stderr).toBe(refused(inDir, 'a policy file', theirs(dir, 'that folder', 'what is in it')));
    const mine = path.join(own, 'mine.yaml');
    writeFileSync(mine, POLICY);
    const cfg = path.join(own, 'config.yaml');
    writeFileSync(cfg, `pins: ${JSON.stringify(path.join(dir, 'lock.json'))}\naudit: { enabled: false }\n`);
    expect(start('--config', cfg, '--policy', mine).stderr).toBe(refused(path.join(dir, 'lock.json'), 'the pin lock file (pins)', theirs(dir, 'that folder', 'what is in it')));
    // A link another user put there, to the caller's own private file: they can point it elsewhere.
    const link = path.join(shared, 'link.yaml');
    symlinkSync(mine, link);
    expect(start('--policy', link).status).toBe(0);
    giveAway(link);
    expect(start('--policy', link).stderr).toBe(refused(link, 'a policy file', theirs('it', 'it', 'it')));
    // Outside such a folder, an owner is not checked (as a group's write permission is not): only someone who can
    // already write the caller's folder could have put the file there.
    giveAway(mine);
    expect(start('--policy', mine).status).toBe(0);
  });

  it("the audit trail's signing key and anchor, when another user could replace them, stop the start: the trail would vouch for their edits", () => {
    const own = tmpDir('mcpw-perm-');
    const open = path.join(own, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    const why = `it is in ${open}, a folder every user of this machine can write (mode 0777, no sticky bit), so anyone could put another file in its place; move it, chmod o-w ${open}, or mount it read-only`;
    const audited = (extra: string) => writeConfig(`audit: { db: ${JSON.stringify(path.join(own, 'audit.db'))}${extra} }\n`);
    const refusedAudit = (file: string, what: string, reason: string) => `mcp-warden: ${file}: refused as ${what}, which the audit trail is verified against: ${reason}\n`;
    // Control: the defaults beside a private database start.
    expect(start('--config', audited('')).status).toBe(0);
    // (A key file every user can read or write is refused where it is read: audit-bad-files.test.ts.)
    // An anchor (not written yet) in a folder every user can write: who writes it hides a trail cut short.
    const anchor = path.join(open, 'audit.anchor');
    const mine = path.join(own, 'mine.anchor');
    writeFileSync(mine, '');
    chmodSync(mine, 0o666);
    expect(start('--config', audited(`, anchor: ${JSON.stringify(mine)}`)).stderr).toBe(refusedAudit(mine, 'the audit anchor (audit.anchor)', 'every user of this machine can write it (mode 0666); chmod o-w it'));
    const r2 = start('--config', audited(`, anchor: ${JSON.stringify(anchor)}`));
    expect(r2.status).toBe(2);
    expect(r2.stderr).toBe(refusedAudit(anchor, 'the audit anchor (audit.anchor)', why));
    expect(existsSync(anchor)).toBe(false);
    // A key configured there (who replaces it signs what verify then accepts), likewise; with the sticky bit, both start.
    expect(start('--config', audited(`, signing_key: ${JSON.stringify(path.join(open, 'k.key'))}`)).stderr).toBe(refusedAudit(path.join(open, 'k.key'), 'the audit signing key (audit.signing_key)', why));
    chmodSync(open, 0o1777);
    expect(start('--config', audited(`, anchor: ${JSON.stringify(anchor)}`)).status).toBe(0);
  });

  it('a reload to a policy file every user can write keeps the last good policy, and is audited', async () => {
    const live = path.join(tmpDir('mcpw-perm-'), 'live.yaml');
    writeFileSync(live, POLICY);
    const db = path.join(tmpDir('mcpw-perm-'), 'audit.db');
    const c = await connectClient('v1', { kind: 'stdio', command: NODE, args: wrapArgs('--config', writeConfig(`audit:\n  db: ${db}\n`), '--policy', live, '--', NODE, DUAL, 'stdio'), env: isolatedEnv() });
    try {
      expect(text(await c.callTool('echo', { message: 'hello' }))).toBe('echo: hello');
      writeFileSync(live, POLICY.replace('max_length: 20', 'max_length: 3'));
      chmodSync(live, 0o666);
      await new Promise((r) => setTimeout(r, 1500));
      expect(text(await c.callTool('echo', { message: 'hello' }))).toBe('echo: hello');
      // Made private again, the same text is loaded.
      chmodSync(live, 0o644);
      for (let i = 0; i < 60 && (await c.callTool('echo', { message: 'hello' }))['isError'] !== true; i++) await new Promise((r) => setTimeout(r, 100));
      expect((await c.callTool('echo', { message: 'hello' }))['isError']).toBe(true);
    } finally {
      await c.close();
    }
    const store = new AuditStore(db, { readonly: true });
    const reloads = query(store, { event: 'policy_reload' });
    store.close();
    expect(reloads.map((e) => e.status)).toEqual(['failed', 'ok']);
    expect(reloads[0]!.reason).toContain('refused as a policy file, which decides what mcp-warden lets through: every user of this machine can write it (mode 0666)');
  });
});

describe('completion values for a visible resource template', () => {
  it('leave out the values that would name a URI the caller cannot read', async () => {
    const own = tmpDir('mcpw-complete-');
    const pol = path.join(own, 'policy.yaml');
    writeFileSync(pol, 'version: 1\ndefault: deny\nrules:\n  - id: templates\n    effect: allow\n    resources: ["test://template/**"]\n  - id: not-park\n    effect: deny\n    resources: ["test://template/park/**"]\n');
    const c = await connectClient('v1', { kind: 'stdio', command: NODE, args: wrapArgs('--config', writeConfig('audit: { enabled: false }\n'), '--policy', pol, '--', NODE, DUAL, 'stdio'), env: isolatedEnv() });
    try {
      // The server suggests paris, park and party for any variable; test://template/park/data is hidden.
      const r = await c.complete({ type: 'ref/resource', uri: 'test://template/{id}/data' }, { name: 'id', value: 'pa' });
      expect(r['completion']).toEqual({ values: ['paris', 'party'], total: 2, hasMore: false });
      expect(((await c.readResource('test://template/paris/data'))['contents'] as unknown[]).length).toBe(1);
      expect((await errorOf(c.readResource('test://template/park/data'))).code).toBe(-32602);
    } finally {
      await c.close();
    }
  });

  it('a context argument named __proto__ fills its variable like any other (it was dropped, leaving the variable unexpanded)', async () => {
    const own = tmpDir('mcpw-complete-proto-');
    const pol = path.join(own, 'policy.yaml');
    writeFileSync(pol, 'version: 1\ndefault: allow\nrules:\n  - id: no-secret\n    effect: deny\n    resources: ["leak://secret/**"]\n');
    const leaky = path.join(ROOT, 'test/fixtures/leaky-server.mjs');
    const raw = new RawStdio(NODE, wrapArgs('--config', writeConfig('audit: { enabled: false }\nredaction: false\npins: false\n'), '--policy', pol, '--', NODE, leaky), isolatedEnv());
    try {
      await raw.initialize();
      // The server suggests two values for any variable; each would name leak://secret/<value>, which is denied.
      raw.write('{"jsonrpc":"2.0","id":7,"method":"completion/complete","params":{"ref":{"type":"ref/resource","uri":"leak://{__proto__}/{name}"},"argument":{"name":"name","value":"s"},"context":{"arguments":{"__proto__":"secret"}}}}\n');
      const r = await raw.reply(7);
      expect((r.result as { completion: unknown }).completion).toEqual({ values: [], total: 0, hasMore: false });
    } finally {
      await raw.close();
    }
  });

  it('a template is expanded as RFC 6570 writes each kind of expression, a value as it is', () => {
    expect(expandTemplate('file:///{path}', { path: 'secrets/keys.txt' })).toBe('file:///secrets/keys.txt');
    expect(expandTemplate('file://{+root}{/dir,name}{?v}{#frag}', { root: '/srv', dir: 'a', name: 'b', v: '1', frag: 'top' })).toBe('file:///srv/a/b?v=1#top');
    expect(expandTemplate('db://{host}/{table}{.ext}{;rev}{&x}', { table: 'users', ext: 'csv', rev: '2', x: 'y' })).toBe('db://{host}/users.csv;rev=2&x=y');
    expect(expandTemplate('x://{a*}/{b:3}', { a: 'one', b: 'two' })).toBe('x://one/two');
  });
});

describe('look-alike method names', () => {
  // A server that trims and lower-cases method names before it dispatches: `TOOLS/CALL` runs a tool there. Every stage
  // judges the exact method, so a look-alike would have passed policy, pins and approvals untouched.
  const LENIENT = path.join(ROOT, 'test/fixtures/lenient-server.mjs');

  it('are refused both ways: a denied tool does not run, a denied server request does not reach the host, all audited (and so are keys that differ only in case)', async () => {
    const pol = path.join(dir, 'lenient.yaml');
    writeFileSync(pol, 'version: 1\ndefault: allow\nrules:\n  - { id: no-delete, effect: deny, tools: ["delete_*"] }\n  - { id: no-sampling, effect: deny, methods: ["sampling/createMessage"] }\n');
    const log = path.join(tmpDir('mcpw-lenient-'), 'ran.log');
    const env = isolatedEnv({ LENIENT_LOG: log });
    const db = path.join(tmpDir('mcpw-lenient-db-'), 'audit.db');
    const raw = new RawStdio(NODE, wrapArgs('--config', writeConfig('pins: false\n'), '--policy', pol, '--audit-db', db, '--', NODE, LENIENT), env);
    await raw.initialize();
    const answers: Record<string, unknown>[] = [];
    let id = 10;
    for (const method of ['tools/call', 'TOOLS/CALL', 'Tools/Call', 'tools/call ', '\u200btools/call', 'tools\uff0fcall', '/tools/call']) {
      const r = await raw.request(id++, method, { name: 'delete_note', arguments: {} });
      answers.push(r.error ?? {});
    }
    // The refusal names the method it is spelled like; the exact one is the policy's refusal (a hidden tool).
    expect(answers[0]).toMatchObject({ code: -32602 });
    for (const a of answers.slice(1)) expect(a).toMatchObject({ code: -32601, message: expect.stringContaining('is not "tools/call"') });
    // The same server takes the last of `name` and `Name` (as Go's encoding/json did for the Go SDK, CVE-2026-27896),
    // while the policy judged `name`: keys that differ only in case are refused.
    const twins = await raw.request(id++, 'tools/call', { name: 'read_note', Name: 'delete_note', arguments: {} });
    expect(twins.error).toMatchObject({ code: -32600, message: expect.stringContaining('keys that differ only in case') });
    // A read or a prompt with no string target to judge is refused, not passed on undecided (`URI` alone).
    for (const [method, params] of [['resources/read', { URI: 'file:///secrets/key' }], ['resources/subscribe', { uri: ['file:///secrets/key'] }], ['prompts/get', { Name: 'admin' }]] as const) {
      expect((await raw.request(id++, method, params)).error, method).toMatchObject({ code: -32602, message: expect.stringContaining('needs a string') });
    }
    // The server's request spelled `Sampling/CreateMessage` carries the id of the call it answers next: that call
    // still gets its own answer, the server gets the refusal, and the host never sees the request.
    const asked = await raw.call(id++, 'ask_model');
    expect(asked.result?.['content']).toEqual([{ type: 'text', text: 'asked' }]);
    const read = await raw.call(id++, 'read_note');
    expect(read.result?.['content']).toEqual([{ type: 'text', text: 'note' }]);
    expect(raw.received.filter((m) => typeof m.method === 'string')).toEqual([]);
    expect(await raw.close()).toBe(0);
    const ran = readFileSync(log, 'utf8').trim().split('\n');
    expect(ran.filter((l) => l.startsWith('ran '))).toEqual(['ran ask_model', 'ran read_note']);
    expect(ran.filter((l) => /^got (resources|prompts)\//.test(l))).toEqual([]);
    expect(ran.filter((l) => l.startsWith('answer '))).toEqual([expect.stringMatching(/^answer \d+ -32601$/)]);
    const bad = auditEvents(db).filter((e) => e.event === 'bad_input');
    expect(bad.map((e) => JSON.parse(e.extra ?? '{}').from as string)).toEqual([...new Array(7).fill('client'), 'server']);
    expect(bad.filter((e) => /^Method not found: ".+" is not "(tools\/call|sampling\/createMessage)"/.test(e.reason ?? '')).length).toBe(7);
    expect(bad.filter((e) => (e.reason ?? '').includes('differ only in case')).length).toBe(1);
  });
});
