/**
 * Issue 5, done-when 2: secrets and personal data planted by an upstream in every message kind arrive masked at
 * an SDK client, through wrap and serve; a message with nothing to redact arrives byte-identical apart from its
 * id; a client that validates tool output against outputSchema never throws because of redaction; inbound
 * detect / mask / block; the 2026-07-28 era (input_required, mirrored Mcp-Param headers rewritten).
 */
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, type McpClient, type Target } from '../helpers/clients.js';
import { ALLOW_ALL, isolatedEnv, NODE, ROOT, startServe, tmpDir, waitForStderr, writeConfig, wrapArgs, type Running } from '../helpers/cli.js';
import { RawStdio } from '../helpers/raw.js';
import { AuditStore } from '../../src/audit/store.js';
import { query } from '../../src/audit/read.js';
import { spawn } from 'node:child_process';
import { freePort, stopProcess } from '../helpers/cli.js';
// @ts-expect-error a plain .mjs fixture
import { CARD, EMAIL, PAT, PNG } from '../fixtures/leaky-values.mjs';

const LEAKY = path.join(ROOT, 'test/fixtures/leaky-server.mjs');
const DUAL = path.join(ROOT, 'test/fixtures/dual-era-server.mjs');
const pat = PAT as string;
const email = EMAIL as string;
const cardNo = CARD as string;

function texts(r: Record<string, unknown>): string {
  return JSON.stringify(r);
}

function expectClean(v: unknown): void {
  const s = JSON.stringify(v);
  expect(s).not.toContain(pat);
  expect(s).not.toContain(email);
  expect(s).not.toContain(cardNo);
  expect(s).not.toContain(cardNo.replace(/ /g, ''));
}

/**
 * Where two long texts part, for a failure that says more than a truncated diff of 300 KB strings: the lengths,
 * the first differing offset and the text around it (undefined when equal).
 */
function divergence(got: string | undefined, want: string | undefined): string | undefined {
  if (got === want) return undefined;
  if (got === undefined || want === undefined) return `got ${got === undefined ? 'nothing' : `${got.length} chars`}, want ${want === undefined ? 'nothing' : `${want.length} chars`}`;
  let i = 0;
  while (i < got.length && i < want.length && got.charCodeAt(i) === want.charCodeAt(i)) i++;
  return `lengths ${got.length} vs ${want.length}, first difference at ${i}: got ${JSON.stringify(got.slice(Math.max(0, i - 20), i + 40))}, want ${JSON.stringify(want.slice(Math.max(0, i - 20), i + 40))}`;
}

function redactionConfig(inbound = 'detect', answers?: string): string {
  return writeConfig(`policy: [${ALLOW_ALL}]\nredaction: { packs: [secrets, pii], action: mask, inbound: ${inbound}${answers ? `, answers: ${answers}` : ''} }\n`);
}

interface Lane {
  name: string;
  target: () => Target;
  leakLog: string;
  stop?: () => Promise<unknown>;
}

const leakLogs: string[] = [];
function leakLog(): string {
  const f = path.join(tmpDir('mcpw-leak-'), 'leak.log');
  leakLogs.push(f);
  return f;
}

async function wrapLane(inbound = 'detect', answers?: string): Promise<Lane & { db: string }> {
  const log = leakLog();
  const cfg = redactionConfig(inbound, answers);
  const env = isolatedEnv({ LEAK_LOG: log });
  const db = path.join(env['XDG_STATE_HOME']!, 'mcp-warden', 'audit.db');
  return { name: `wrap (inbound ${inbound})`, leakLog: log, db, target: () => ({ kind: 'stdio', command: NODE, args: wrapArgs('--config', cfg, '--', NODE, LEAKY), env }) };
}

async function serveLane(): Promise<Lane & { running: Running }> {
  const log = leakLog();
  const running = await startServe(`servers:\n  leaky:\n    command: ${NODE}\n    args: [${LEAKY}]\n    env: { LEAK_LOG: "${log}" }\npolicy: [${ALLOW_ALL}]\nredaction: { packs: [secrets, pii] }\n`);
  return { name: 'serve', leakLog: log, running, target: () => ({ kind: 'http', url: `${running.url}/mcp` }), stop: () => running.stop() };
}

function readLog(f: string): string {
  return existsSync(f) ? readFileSync(f, 'utf8') : '';
}

describe.each([
  ['wrap', wrapLane],
  ['serve', serveLane],
] as const)('every message kind through %s (2025 era, SDK 1.x client)', (_name, make) => {
  let lane: Lane;
  let c: McpClient;
  const progress: Record<string, unknown>[] = [];

  beforeAll(async () => {
    lane = await make();
    c = await connectClient('v1', lane.target());
    await c.listTools();
  });
  afterAll(async () => {
    await c?.close();
    await lane?.stop?.();
  });

  it('tool result text', async () => {
    const r = await c.callTool('leak_text');
    expectClean(r);
    expect(texts(r)).toContain('[REDACTED:github-pat]');
    expect(texts(r)).toContain('[REDACTED:email]');
  });

  it('long results (their received bytes kept for the prefilter) are masked too', async () => {
    for (const tool of ['leak_large_20k', 'leak_large_300k']) {
      const r = await c.callTool(tool);
      expectClean(r);
      expect(texts(r)).toContain('[REDACTED:github-pat]');
      expect(texts(r)).toContain('[REDACTED:email]');
      expect(texts(r)).toContain('completed in');
    }
  });

  it("the result of a method of the server's own, or of tasks/cancel, is masked too", async () => {
    const lookup = await c.request('x/lookup', {});
    expectClean(lookup);
    expect(lookup).toEqual({ owner: '[REDACTED:email]', credentials: { token: '[REDACTED:github-pat]' } });
    const created = await c.request('tools/call', { name: 'leak_text', arguments: {}, task: { ttl: 60000 } });
    const taskId = (created['task'] as { taskId: string }).taskId;
    const cancel = await c.request('tasks/cancel', { taskId });
    expectClean(cancel);
    expect(cancel['statusMessage']).toBe('cancelled; ask [REDACTED:email]');
    expect(cancel['taskId']).toBe(taskId);
  });

  it('structuredContent and its text mirror agree, and the validating client accepts them', async () => {
    const r = await c.callTool('leak_structured');
    expectClean(r);
    const sc = r['structuredContent'] as Record<string, string>;
    expect(sc).toEqual({ owner: '[REDACTED:email]', token: '[REDACTED:github-pat]', note: 'rotated weekly' });
    expect((r['content'] as { text: string }[])[0]!.text).toBe(JSON.stringify(sc));
  });

  it('a mask the outputSchema rejects withholds the result as isError instead of breaking the client', async () => {
    for (const tool of ['leak_structured_strict', 'leak_number']) {
      const r = await c.callTool(tool);
      expectClean(r);
      expect(r['isError'], tool).toBe(true);
      expect(texts(r)).toMatch(/withheld this result/);
    }
  });

  it('embedded resources and textual blobs are masked; binary blobs arrive untouched', async () => {
    const r = await c.callTool('leak_resource');
    expectClean(r);
    const content = r['content'] as Record<string, Record<string, string> & { resource: Record<string, string> }>[];
    expect(content[0]!.resource.text).toBe('owner [REDACTED:email]');
    expect(Buffer.from(content[1]!.resource.blob, 'base64').toString()).toBe('token=[REDACTED:github-pat]\n');
    expect(content[2]!.resource.blob).toBe(PNG);
    expect(content[3]!['data']).toBe(PNG);
    const decoded = Buffer.from(content[1]!.resource.blob, 'base64').toString();
    expect(decoded).not.toContain(pat);
  });

  it('text blobs in any encoding: Latin-1, UTF-16 with and without a byte order mark', async () => {
    const r = await c.callTool('leak_blobs');
    const blobs = (r['content'] as { resource: { blob: string } }[]).map((b) => Buffer.from(b.resource.blob, 'base64'));
    expect(blobs[0]!.toString('latin1')).toBe('caf\u00e9 owner\ntoken=[REDACTED:github-pat]\n');
    expect(blobs[1]!.toString('latin1')).toBe('na\u00efve=1\ntoken=[REDACTED:github-pat]\n');
    expect(blobs[2]!.toString('utf16le')).toBe('\ufefftoken=[REDACTED:github-pat]\n');
    expect(blobs[3]!.toString('utf16le')).toBe('token=[REDACTED:github-pat]\n');
    expect(Buffer.from(blobs[4]!).swap16().toString('utf16le')).toBe('\ufefftoken=[REDACTED:github-pat]\n');
  });

  it('log and progress notifications', async () => {
    await c.callTool('leak_log');
    await c.callTool('leak_progress', {}, { onprogress: (p) => progress.push(p as Record<string, unknown>) });
    const logs = c.notifications.filter((n) => n.method === 'notifications/message');
    expect(logs.length).toBeGreaterThan(0);
    expectClean(logs);
    expect(JSON.stringify(logs)).toContain('auth with [REDACTED:github-pat]');
    expect(progress.length).toBeGreaterThan(0);
    expectClean(progress);
    expect(progress[0]!['message']).toBe('uploading as [REDACTED:github-pat]');
  });

  it('server-initiated sampling and elicitation', async () => {
    await c.callTool('leak_sampling');
    await c.callTool('leak_elicitation');
    const sampling = c.serverRequests.find((r) => r.method === 'sampling/createMessage');
    const elicitation = c.serverRequests.find((r) => r.method === 'elicitation/create');
    expect(JSON.stringify(sampling)).toContain('use token [REDACTED:github-pat]');
    expect(elicitation?.params['message']).toBe('Confirm the account [REDACTED:email]');
    expectClean(c.serverRequests);
  });

  it('error message and data', async () => {
    let err: { message?: string; data?: unknown } | undefined;
    try {
      await c.callTool('leak_error');
    } catch (e) {
      err = e as typeof err;
    }
    expect(err).toBeDefined();
    expect(err!.message).toContain('upstream rejected token [REDACTED:github-pat]');
    expectClean([err!.message, err!.data]);
    expect(err!.data).toEqual({ owner: '[REDACTED:email]', retry: false });
  });

  it('resources/read, prompts/get and completions', async () => {
    const res = await c.readResource('leak://notes');
    expect(JSON.stringify(res)).toContain('notes: card [REDACTED:credit-card], contact [REDACTED:email]');
    const prompt = await c.getPrompt('leak_prompt');
    expect(JSON.stringify(prompt)).toContain('Use [REDACTED:github-pat] to clone');
    const comp = await c.complete({ type: 'ref/prompt', name: 'leak_prompt' }, { name: 'who', value: '' });
    expect((comp['completion'] as { values: string[] }).values).toEqual(['[REDACTED:email]', 'someone-else']);
    expectClean([res, prompt, comp]);
  });

  it('task-augmented calls: the task, tasks/get and tasks/result', async () => {
    const created = await c.request('tools/call', { name: 'leak_structured', arguments: {}, task: { ttl: 60000 } });
    const task = created['task'] as { taskId: string; statusMessage: string };
    expect(task.statusMessage).toBe('started for [REDACTED:email]');
    const got = await c.request('tasks/get', { taskId: task.taskId });
    expect(got['statusMessage']).toBe('done for [REDACTED:email]');
    const result = await c.request('tasks/result', { taskId: task.taskId });
    expect(result['structuredContent']).toEqual({ owner: '[REDACTED:email]', token: '[REDACTED:github-pat]', note: 'rotated weekly' });
    expect((result['content'] as { text: string }[])[0]!.text).toBe(JSON.stringify(result['structuredContent']));
    expectClean([created, got, result]);
  });

  it('inbound: detect by default — arguments reach the server unchanged', async () => {
    await c.callTool('echo_args', { note: `my key ${pat}` });
    expect(readLog(lane.leakLog)).toContain(`echo_args {"note":"my key ${pat}"}`);
    await c.callTool('echo_args', { note: 'nothing secret here' });
    const db = (lane as Partial<{ db: string }>).db;
    if (!db) return; // serve's audit trail lives in its own state directory; wrap's is checked here
    // The audit capture masks what reached the server in clear; arguments the prefilter found clean are stored as sent.
    const store = new AuditStore(db, { readonly: true });
    try {
      const echoes = query(store, { event: 'exchange', tool: 'echo_args' }).map((e) => e.args);
      expect(echoes).toContain('{"note":"my key [REDACTED:github-pat]"}');
      expect(echoes).toContain('{"note":"nothing secret here"}');
      expect(echoes.join('\n')).not.toContain(pat);
    } finally {
      store.close();
    }
  });
});

/**
 * A 2026-07-28 client answering the server's question with an e-mail address, through wrap with this `inbound`: what
 * the server received (`seen`) and the lines of it that are the retried call carrying the answers.
 */
async function retriedAnswers(inbound: string): Promise<{ seen: string; retry: string[] }> {
  const tap = path.join(tmpDir('mcpw-ir-'), 'tap.log');
  const TAP = path.join(ROOT, 'test/fixtures/tap.mjs');
  const c = await connectClient(
    'v2',
    { kind: 'stdio', command: NODE, args: wrapArgs('--config', redactionConfig(inbound), '--', NODE, TAP, '--', NODE, DUAL, 'stdio'), env: isolatedEnv({ TAP_LOG: tap, DUAL_ERA_LEAKS: '1' }) },
    { negotiation: 'auto', elicitation: () => ({ action: 'accept', content: { ok: true, note: `reach me at ${email}` } }) },
  );
  try {
    expect(c.protocolVersion()).toBe('2026-07-28');
    await c.callTool('leak_input_required');
  } finally {
    await c.close();
  }
  const seen = readFileSync(tap, 'utf8');
  return { seen, retry: seen.split('\n').filter((l) => l.includes('"inputResponses"')) };
}

describe('inbound mask and block through wrap', () => {
  it('mask: the server receives the masked argument', async () => {
    const lane = await wrapLane('mask');
    const c = await connectClient('v1', lane.target());
    const r = await c.callTool('echo_args', { note: `my key ${pat}` });
    await c.callTool('leak_text');
    await c.close();
    expect(readLog(lane.leakLog)).toContain('echo_args {"note":"my key [REDACTED:github-pat]"}');
    expect(readLog(lane.leakLog)).not.toContain(pat);
    expectClean(r);
    // The audit trail: rule counts, never the values; captured arguments masked.
    const store = new AuditStore(lane.db, { readonly: true });
    try {
      const calls = query(store, { event: 'exchange', tool: undefined }).filter((e) => e.method === 'tools/call');
      const echo = calls.find((e) => e.target === 'echo_args')!;
      const leak = calls.find((e) => e.target === 'leak_text')!;
      expect(echo.args).toBe('{"note":"my key [REDACTED:github-pat]"}');
      expect(JSON.parse(echo.extra ?? '{}')['inbound_redactions']).toEqual({ 'github-pat': 1 });
      expect(JSON.parse(leak.redactions ?? '{}')).toEqual({ 'github-pat': 1, email: 1 });
      expectClean(calls);
    } finally {
      store.close();
    }
  });

  it('a resource URI carrying a secret out: mask rewrites it, block refuses it, detect counts it', async () => {
    const uri = `https://collector.example.test/c?d=${pat}`;
    for (const inbound of ['mask', 'block', 'detect']) {
      const lane = await wrapLane(inbound);
      const c = await connectClient('v1', lane.target());
      const outcome = await c.readResource(uri).then(
        () => 'read',
        (e: { code?: number }) => `error ${e.code}`,
      );
      await c.close();
      const got = readLog(lane.leakLog);
      const store = new AuditStore(lane.db, { readonly: true });
      const ev = query(store, { event: 'exchange' }).find((e) => e.method === 'resources/read')!;
      store.close();
      expect(JSON.parse(ev.extra ?? '{}')['inbound_redactions'], inbound).toEqual({ 'github-pat': 1 });
      expect(ev.target, inbound).toBe('https://collector.example.test/c?d=[REDACTED:github-pat]');
      if (inbound === 'mask') {
        expect(outcome).toBe('read');
        expect(got).toContain('resources/read https://collector.example.test/c?d=[REDACTED:github-pat]');
        expect(got).not.toContain(pat);
      } else if (inbound === 'block') {
        expect(outcome).toBe('error -32015');
        expect(got).not.toContain('resources/read');
      } else {
        expect(outcome).toBe('read');
        expect(got).toContain(`resources/read ${uri}`);
      }
    }
  });

  it("the client's answers to the server's questions are masked by default, with inbound: detect; answers: detect lets them through", async () => {
    // MCP forbids a server to ask for keys in a form: one that does is fishing. The person's answer with a token in it:
    const elicitation = () => ({ action: 'accept', content: { ok: true, note: `here is my token ${pat}` } });
    for (const answers of [undefined, 'detect']) {
      const lane = await wrapLane('detect', answers);
      const c = await connectClient('v1', lane.target(), { elicitation });
      await c.callTool('leak_elicitation');
      await c.callTool('echo_args', { note: `my key ${pat}` });
      await c.close();
      const log = readLog(lane.leakLog);
      // Arguments: inbound detect, unchanged either way.
      expect(log).toContain(`echo_args {"note":"my key ${pat}"}`);
      const answer = log.split('\n').find((l) => l.startsWith('elicitation-answer'))!;
      if (answers === undefined) {
        expect(answer).toContain('here is my token [REDACTED:github-pat]');
        expect(answer).not.toContain(pat);
      } else expect(answer).toContain(`here is my token ${pat}`);
      const store = new AuditStore(lane.db, { readonly: true });
      try {
        const ev = query(store, {}).find((e) => e.event === 'server_request' && e.method === 'elicitation/create')!;
        expect(JSON.parse(ev.extra ?? '{}')['inbound_redactions']).toEqual({ 'github-pat': 1 });
      } finally {
        store.close();
      }
    }
    // 2026-07-28: the answers ride in the retried request; masked by default too, while its arguments are not.
    const { retry } = await retriedAnswers('detect');
    expect(retry.length).toBe(1);
    expect(retry[0]).toContain('reach me at [REDACTED:email]');
    expect(retry[0]).not.toContain(email);
  });

  it("mask: a 2026 client's answers (inputResponses of the retried call) are masked as a 2025 answer is", async () => {
    const { seen, retry } = await retriedAnswers('mask');
    expect(retry.length).toBe(1);
    expect(retry[0]).toContain('reach me at [REDACTED:email]');
    expect(seen).not.toContain(email);
  });

  it('mask: a long argument (its received bytes kept for the prefilter) is masked too', async () => {
    const lane = await wrapLane('mask');
    const c = await connectClient('v1', lane.target());
    const note = `${'nothing to see here. '.repeat(2000)}my key ${pat}`;
    expect(note.length).toBeGreaterThan(32 * 1024);
    await c.callTool('echo_args', { note });
    await c.close();
    const log = readLog(lane.leakLog);
    expect(log).toContain('my key [REDACTED:github-pat]');
    expect(log).not.toContain(pat);
  });

  it('block: the call is refused with isError and never reaches the server', async () => {
    const lane = await wrapLane('block');
    const c = await connectClient('v1', lane.target());
    const r = await c.callTool('echo_args', { note: `my key ${pat}` });
    const ok = await c.callTool('echo_args', { note: 'nothing secret' });
    await c.close();
    expect(r['isError']).toBe(true);
    expect(texts(r)).toMatch(/withheld this request/);
    expect(texts(r)).toContain('github-pat');
    expect(readLog(lane.leakLog)).not.toContain(pat);
    expect(readLog(lane.leakLog)).toContain('nothing secret');
    expect(ok['isError']).toBeFalsy();
  });
});

describe('base64 inside text strings (redaction.decode_base64) through wrap', () => {
  it('off by default the encoded token reaches the client; on, it arrives masked inside the run, short and long results alike', async () => {
    const env = `# deploy\nGITHUB_TOKEN=${pat}\n`;
    const encoded = Buffer.from(env).toString('base64');
    const long = `${'lorem ipsum '.repeat(30_000)}${encoded}`;
    const echoes = async (decode: boolean) => {
      const cfg = writeConfig(`policy: [${ALLOW_ALL}]\naudit: { enabled: false }\nredaction: { decode_base64: ${decode} }\n`);
      const c = await connectClient('v1', { kind: 'stdio', command: NODE, args: wrapArgs('--config', cfg, '--', NODE, DUAL, 'stdio'), env: isolatedEnv() });
      try {
        const text = async (message: string) => ((await c.callTool('echo', { message })) as { content: { text: string }[] }).content[0]!.text;
        return [await text(`file: ${encoded}`), await text(long)];
      } finally {
        await c.close();
      }
    };
    const [shortOff, longOff] = await echoes(false);
    expect(shortOff).toBe(`echo: file: ${encoded}`);
    expect(longOff).toBe(`echo: ${long}`);
    const [shortOn, longOn] = await echoes(true);
    const masked = Buffer.from(env.replace(pat, '[REDACTED:github-pat]')).toString('base64');
    expect(shortOn).toBe(`echo: file: ${masked}`);
    expect(longOn!.length).toBe(`echo: ${long}`.length - encoded.length + masked.length);
    expect(longOn!.endsWith(masked)).toBe(true);
  });
});

describe('a message with nothing to redact is forwarded as the server wrote it', () => {
  async function lines(direct: boolean): Promise<string[]> {
    const cfg = redactionConfig();
    const raw = direct ? new RawStdio(NODE, [LEAKY], isolatedEnv()) : new RawStdio(NODE, wrapArgs('--config', cfg, '--', NODE, LEAKY), isolatedEnv());
    await raw.initialize(1);
    await raw.call(7, 'clean');
    await raw.call(8, 'leak_text');
    // Long enough that wrap keeps their received bytes and, for the ASCII one, sends those bytes as they are.
    await raw.call(9, 'clean_large_ascii');
    await raw.call(10, 'clean_large_unicode');
    const out = [...raw.lines];
    await raw.close();
    return out;
  }

  it('through wrap: byte-identical for the clean result, rewritten for the leaky one', async () => {
    const direct = await lines(true);
    const proxied = await lines(false);
    const clean = (ls: string[]) => ls.find((l) => l.includes('"id":7'));
    const leaky = (ls: string[]) => ls.find((l) => l.includes('"id":8'));
    expect(clean(direct)).toBeDefined();
    expect(clean(proxied)).toBe(clean(direct));
    expect(leaky(direct)).toContain(pat);
    expect(leaky(proxied)).not.toContain(pat);
    expect(leaky(proxied)).toContain('[REDACTED:github-pat]');
    for (const id of [9, 10]) {
      const line = (ls: string[]) => ls.find((l) => l.endsWith(`"id":${id}}`));
      expect(line(direct)!.length).toBeGreaterThan(300_000);
      const d = divergence(line(proxied), line(direct));
      expect(d, `id ${id}: ${d}`).toBeUndefined();
    }
  });
});

describe('a clean message through serve is the bytes the server wrote', () => {
  it('the JSON-RPC text of a clean result is identical to the direct one', async () => {
    const direct = new RawStdio(NODE, [LEAKY], isolatedEnv());
    await direct.initialize(1);
    await direct.call(7, 'clean');
    const directLine = direct.lines.find((l) => l.includes('"id":7'))!;
    await direct.call(9, 'clean_large_ascii');
    await direct.call(10, 'clean_large_unicode');
    const directLines = new Map([9, 10].map((id) => [id, direct.lines.find((l) => l.endsWith(`"id":${id}}`))!]));
    await direct.close();
    const running = await startServe(`servers:\n  leaky:\n    command: ${NODE}\n    args: [${LEAKY}]\npolicy: [${ALLOW_ALL}]\n`);
    try {
      const post = async (body: unknown, sid?: string) => {
        const res = await fetch(`${running.url}/mcp`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(sid ? { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' } : {}) },
          body: JSON.stringify(body),
        });
        const text = await res.text();
        const json = res.headers.get('content-type')?.includes('text/event-stream') ? text.split('\n').find((l) => l.startsWith('data: '))!.slice(6) : text;
        return { sid: res.headers.get('mcp-session-id') ?? undefined, json };
      };
      const init = await post({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
      await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, init.sid);
      const clean = await post({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'clean', arguments: {} } }, init.sid);
      const leaky = await post({ jsonrpc: '2.0', id: 8, method: 'tools/call', params: { name: 'leak_text', arguments: {} } }, init.sid);
      expect(clean.json).toBe(directLine);
      for (const [id, name] of [[9, 'clean_large_ascii'], [10, 'clean_large_unicode']] as const) {
        const big = await post({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: {} } }, init.sid);
        expect(big.json.length).toBeGreaterThan(300_000);
        const d = divergence(big.json, directLines.get(id));
        expect(d, `id ${id}: ${d}`).toBeUndefined();
      }
      expect(leaky.json).toContain('[REDACTED:github-pat]');
      expect(leaky.json).not.toContain(pat);
    } finally {
      await running.stop();
    }
  });
});

describe('what a server says about itself', () => {
  it('descriptions, titles, instructions, the server\'s own title and description and its capabilities\' strings reach the model masked; pins still match a lock file written from the server', async () => {
    const { spawnSync } = await import('node:child_process');
    const dir = tmpDir('mcpw-defs-');
    const lock = path.join(dir, 'lock.json');
    const cfg = path.join(dir, 'config.yaml');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(cfg, `servers:\n  leaky:\n    command: ${NODE}\n    args: [${LEAKY}]\n    env: { LEAK_DEFINITIONS: "1" }\npins: ${lock}\npolicy: [${ALLOW_ALL}]\nredaction: { packs: [secrets, pii], action: mask }\n`);
    // The lock file holds the definitions as the server wrote them, secrets and all.
    const pinned = spawnSync(NODE, [path.join(ROOT, 'dist/cli/index.js'), 'pin', '--config', cfg], { env: isolatedEnv(), encoding: 'utf8', timeout: 30_000 });
    expect(pinned.status, pinned.stderr).toBe(0);
    const c = await connectClient('v1', { kind: 'stdio', command: NODE, args: wrapArgs('--config', cfg, '--name', 'leaky', '--', NODE, LEAKY), env: isolatedEnv({ LEAK_DEFINITIONS: '1' }) });
    try {
      expect(c.instructions()).toBe('Questions go to [REDACTED:email].');
      expect(c.serverVersion()).toMatchObject({ name: 'leaky-server', version: '1.0.0', title: 'Leaky ([REDACTED:email])', description: 'Run by [REDACTED:email]' });
      // A capability of the server's own is free-form: its strings are masked, its keys and other values kept.
      expect(c.serverCapabilities()?.['experimental']).toEqual({ 'com.leaky/debug': { enabled: true, token: '[REDACTED:github-pat]', contact: ['[REDACTED:email]'] } });
      expect(c.serverCapabilities()?.['tools']).toEqual({});
      const deploy = ((await c.listTools())['tools'] as Record<string, unknown>[]).find((t) => t['name'] === 'deploy');
      expect(deploy, 'the tool is not held as changed: pins hashed it as the server sent it').toBeDefined();
      expect(deploy!['description']).toBe('Deploys the site. The deploy key is [REDACTED:github-pat]; ask [REDACTED:email] for another.');
      // A schema's annotations (default, examples) are masked like prose; what it accepts (enum, const) is the server's contract.
      expect(deploy!['inputSchema']).toEqual({
        type: 'object',
        properties: {
          env: { type: 'string', enum: ['staging', 'prod'], description: 'where to; owner [REDACTED:email]' },
          key: { type: 'string', default: '[REDACTED:github-pat]', examples: ['[REDACTED:github-pat]', { owner: '[REDACTED:email]' }] },
          default: { type: 'string', const: 'fixed', description: 'named default; by [REDACTED:email]' },
        },
      });
      expect(deploy!['title']).toBe('Deploy');
      const prompts = (await c.listPrompts())['prompts'] as Record<string, unknown>[];
      expect(prompts[0]!['description']).toBe('a prompt by [REDACTED:email]');
      const resources = (await c.listResources())['resources'] as Record<string, unknown>[];
      expect(resources[0]).toMatchObject({ uri: 'leak://notes', description: 'kept by [REDACTED:email]' });
      // A second listing, after the session kept the server's own copy for its checks, is masked the same way.
      const again = ((await c.listTools())['tools'] as Record<string, unknown>[]).find((t) => t['name'] === 'deploy');
      expect(again!['description']).toBe(deploy!['description']);
      expectClean([deploy, prompts, resources, c.instructions(), c.serverVersion(), c.serverCapabilities()]);
    } finally {
      await c.close();
    }
  });
});

describe('a large text blob is scanned whole', () => {
  // Over HTTP: the SDK's stdio transport refuses a message over 10 MiB on its own, with or without a proxy.
  it('a 9 MiB text blob (12 MB of base64) through serve has its token masked', async () => {
    const running = await startServe(`servers:\n  leaky:\n    command: ${NODE}\n    args: [${LEAKY}]\npolicy: [${ALLOW_ALL}]\nredaction: { packs: [secrets, pii] }\n`);
    const c = await connectClient('v1', { kind: 'http', url: `${running.url}/mcp` });
    try {
      const big = await c.callTool('leak_blob_large');
      const text = Buffer.from((big['content'] as { resource: { blob: string } }[])[0]!.resource.blob, 'base64').toString();
      expect(text.length).toBeGreaterThan(9 * 1024 * 1024);
      expect(text.endsWith('\ntoken=[REDACTED:github-pat]\n')).toBe(true);
    } finally {
      await c.close();
      await running.stop();
    }
  });
});

describe("a server's stderr reaches the proxy's log with its secrets masked", () => {
  it.each([
    ['with the configured detectors', 'redaction: { packs: [secrets, pii], action: mask }\naudit: { enabled: false }\n'],
    ['with redaction turned off (the bundled packs)', 'redaction: false\naudit: { enabled: false }\n'],
  ])('%s', async (_label, yaml) => {
    const cfg = writeConfig(yaml);
    const child = spawn(NODE, [...wrapArgs('--config', cfg, '--', NODE, LEAKY)], { env: isolatedEnv({ LEAK_STDERR: '1', MCP_WARDEN_LOG_LEVEL: 'info' }), stdio: ['pipe', 'pipe', 'pipe'] });
    const line = await waitForStderr(child, /"stream":"stderr".*\n/);
    child.stdin.end();
    await stopProcess(child);
    const text = line.text();
    expect(line.match[0]).toContain('connecting as [REDACTED:email] with token [REDACTED:github-pat]');
    expect(text).not.toContain(pat);
    expect(text).not.toContain(email);
  });
});

describe('a rewritten message keeps the numbers the server wrote', () => {
  it('integers past 2^53, 17-digit fractions and numbers beyond a double reach the client as written when an e-mail beside them is masked', async () => {
    const raw = new RawStdio(NODE, wrapArgs('--config', writeConfig('pins: false\n'), '--', NODE, LEAKY), isolatedEnv());
    await raw.initialize(1);
    await raw.request(2, 'tools/call', { name: 'leak_big_numbers', arguments: {} });
    await raw.close();
    const line = raw.lines.find((l) => l.includes('"account"'))!;
    expect(line).not.toContain(email);
    expect(line).toContain('[REDACTED:email]');
    // JavaScript reads 12345678901234567891 as 12345678901234567000: re-serialised naively, the account changes.
    expect(line).toContain('"account":12345678901234567891');
    expect(line).toContain('"ratio":0.12345678901234567');
    expect(line).toContain('"big":1.0000000000000001e300');
    expect(line).toContain('"accounts":[12345678901234567891,-98765432109876543210]');
    expect(line).toContain('"small":42');
    // Beyond a double's range: JavaScript reads them as Infinity and -0, which JSON.stringify writes as null and 0.
    expect(line).toContain('"huge":1e400,"tiny":-1e-400');
  });
});

describe('the audit trail does not keep what a detect action lets through', () => {
  it("a server error carrying a token reaches the client as written (action: detect) and is masked in the event's reason", async () => {
    const dir = tmpDir('mcpw-detect-');
    const db = path.join(dir, 'audit.db');
    const cfg = writeConfig(`redaction: { packs: [secrets, pii], action: detect }\naudit: { db: ${JSON.stringify(db)} }\npins: false\n`);
    const raw = new RawStdio(NODE, wrapArgs('--config', cfg, '--', NODE, LEAKY), isolatedEnv());
    await raw.initialize(1);
    const answer = await raw.request(2, 'bogus/method');
    await raw.close();
    expect(JSON.stringify(answer)).toContain(pat); // detect: the client gets it, by the configuration's choice
    const store = new AuditStore(db, { readonly: true });
    const events = query(store, { event: 'exchange' });
    store.close();
    const ev = events.find((e) => e.method === 'bogus/method')!;
    expect(ev.reason).toBe('no method bogus/method; token was [REDACTED:github-pat]');
    expect(JSON.stringify(events)).not.toContain(pat);
  });
});

describe("a caller's secrets in a refusal or a resource URI stay out of the audit trail", () => {
  it('the reason quoting a refused argument and the target naming a resource URI are masked', async () => {
    const dir = tmpDir('mcpw-target-');
    const db = path.join(dir, 'audit.db');
    const policy = path.join(dir, 'policy.yaml');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(policy, 'version: 1\ndefault: deny\nrules:\n  - { id: notes, effect: allow, tools: [echo_args], args: { note: { pattern: "^ok$" } } }\n  - { id: web, effect: allow, resources: ["https://**"] }\n');
    const cfg = writeConfig(`audit: { db: ${JSON.stringify(db)} }\npolicy: [${JSON.stringify(policy)}]\npins: false\nlog: { level: debug }\n`);
    const raw = new RawStdio(NODE, wrapArgs('--config', cfg, '--', NODE, LEAKY), isolatedEnv());
    await raw.initialize(1);
    const refused = await raw.request(2, 'tools/call', { name: 'echo_args', arguments: { note: `deploy with ${pat}` } });
    expect(JSON.stringify(refused)).toContain('mcp-warden refused this call'); // the caller's own text comes back to it
    await raw.request(3, 'resources/read', { uri: `https://api.example.test/v1/items?access_token=${pat}` });
    await raw.request(4, 'resources/read', { uri: `file:///home/${pat}/notes` });
    await raw.close();
    const store = new AuditStore(db, { readonly: true });
    const events = query(store, {});
    store.close();
    const read = events.filter((e) => e.method === 'resources/read');
    expect(read.map((e) => e.target)).toEqual(['https://api.example.test/v1/items?access_token=[REDACTED:github-pat]', 'file:///home/[REDACTED:github-pat]/notes']);
    expect(events.find((e) => e.method === 'tools/call')?.reason).toContain('[REDACTED:github-pat]');
    expect(JSON.stringify(events)).not.toContain(pat);
    expect(raw.stderr).not.toContain(pat);
  });
});

describe('a detector RE2 cannot run stops the proxy at load', () => {
  it('wrap and redact refuse a look-ahead pattern in the config, naming file, line and rule', async () => {
    const cfg = writeConfig(`redaction:\n  rules:\n    - id: ok-rule\n      pattern: 'abc[0-9]+'\n    - id: sneaky\n      pattern: '(?=secret)[a-z]+'\n`);
    const { spawnSync } = await import('node:child_process');
    const w = spawnSync(NODE, wrapArgs('--config', cfg, '--', NODE, LEAKY), { env: isolatedEnv(), input: '', encoding: 'utf8', timeout: 20_000 });
    expect(w.status).toBe(2);
    expect(w.stderr).toContain(`${cfg}:5: rule sneaky: pattern is not a valid RE2 pattern`);
    const r = spawnSync(NODE, [path.join(ROOT, 'dist/cli/index.js'), 'redact', '--config', cfg], { env: isolatedEnv(), input: 'x', encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('rule sneaky');
  });

  it('redact --format json lists findings with offsets and never the values', async () => {
    const { spawnSync } = await import('node:child_process');
    const input = `key ${pat} for ${email}\n`;
    const r = spawnSync(NODE, [path.join(ROOT, 'dist/cli/index.js'), 'redact', '--format', 'json'], { env: isolatedEnv(), input, encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { text: string; findings: { rule: string; category: string; start: number; end: number }[] };
    expect(out.text).toBe('key [REDACTED:github-pat] for [REDACTED:email]\n');
    expect(out.findings).toEqual([
      { rule: 'github-pat', category: 'secret', action: 'mask', start: 4, end: 4 + pat.length },
      { rule: 'email', category: 'pii', action: 'mask', start: 9 + pat.length, end: 9 + pat.length + email.length },
    ]);
    expect(r.stdout).not.toContain(pat);
  });

  it('redact decodes base64 as the proxy does with decode_base64, findings at offsets in the input', async () => {
    const { spawnSync } = await import('node:child_process');
    // A .env file base64-encoded in lines of 20, between two addresses: the run gets shorter once its token is
    // masked, so the second address's offset in the input is not its offset in the text the rules see.
    const run = Buffer.from(`export GITHUB_TOKEN=${pat}\nexport REGION=eu\n`).toString('base64').replace(/.{20}/g, '$&\n').trimEnd();
    const input = `before ${email}\n${run}\nafter ${email} 😀\n`;
    const redact = (yaml: string) => {
      const r = spawnSync(NODE, [path.join(ROOT, 'dist/cli/index.js'), 'redact', '--config', writeConfig(yaml), '--format', 'json'], { env: isolatedEnv(), input, encoding: 'utf8', timeout: 20_000 });
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { text: string; findings: { rule: string; start: number; end: number; base64?: boolean }[] };
    };
    const cps = [...input];
    const on = redact('redaction: { decode_base64: true }\n');
    expect(on.findings.map((f) => [f.rule, cps.slice(f.start, f.end).join(''), f.base64 ?? false])).toEqual([
      ['email', email, false],
      ['github-pat', run, true],
      ['email', email, false],
    ]);
    const sentRun = on.text.split('\n').slice(1, -2).join('\n');
    expect(sentRun).not.toBe(run);
    expect(sentRun.split('\n').slice(0, -1).every((l) => l.length === 20)).toBe(true);
    expect(Buffer.from(sentRun, 'base64').toString()).toBe('export GITHUB_TOKEN=[REDACTED:github-pat]\nexport REGION=eu\n');
    expect(on.text).toBe(`before [REDACTED:email]\n${sentRun}\nafter [REDACTED:email] 😀\n`);
    // Off (the default): the run is not decoded.
    const off = redact('redaction: { decode_base64: false }\n');
    expect(off.findings.map((f) => f.rule)).toEqual(['email', 'email']);
    expect(off.text).toBe(`before [REDACTED:email]\n${run}\nafter [REDACTED:email] 😀\n`);
  });

  it('redact --format json counts offsets in code points, past emoji, on every line', async () => {
    const { spawnSync } = await import('node:child_process');
    const line = `😀 key ${pat} 😀😀 ${email}\n`; // code points: 😀, space, "key ", the token, " 😀😀 ", the address, newline
    const perLine = [...line].length;
    const input = line.repeat(300);
    const r = spawnSync(NODE, [path.join(ROOT, 'dist/cli/index.js'), 'redact', '--format', 'json'], { env: isolatedEnv(), input, encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { findings: { rule: string; start: number; end: number }[] };
    expect(out.findings.length).toBe(600);
    const cps = [...input];
    out.findings.forEach((f, i) => {
      const n = Math.floor(i / 2);
      const start = i % 2 === 0 ? n * perLine + 6 : n * perLine + 6 + pat.length + 4;
      expect({ rule: f.rule, start: f.start, end: f.end }).toEqual({ rule: i % 2 === 0 ? 'github-pat' : 'email', start, end: start + (i % 2 === 0 ? pat.length : email.length) });
      expect(cps.slice(f.start, f.end).join('')).toBe(i % 2 === 0 ? pat : email);
    });
  });
});

describe('2026-07-28 through serve (SDK v2 client, dual-era server)', () => {
  let running: Running | undefined;
  let upstream: { proc: ReturnType<typeof spawn>; url: string } | undefined;

  beforeAll(async () => {
    const port = await freePort();
    const proc = spawn(NODE, [DUAL, 'http'], { env: { PATH: process.env['PATH'] ?? '', PORT: String(port), DUAL_ERA_LEAKS: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
    await waitForStderr(proc, /listening on/);
    upstream = { proc, url: `http://127.0.0.1:${port}/mcp` };
    running = await startServe(
      `servers:\n  stdio:\n    command: ${NODE}\n    args: [${DUAL}, stdio]\n    env: { DUAL_ERA_LEAKS: "1" }\n  remote:\n    url: ${upstream.url}\npolicy: [${ALLOW_ALL}]\nredaction: { packs: [secrets, pii], inbound: mask }\n`,
    );
  });
  afterAll(async () => {
    await running?.stop();
    if (upstream) await stopProcess(upstream.proc);
  });

  it.each(['stdio', 'remote'])('tool results, structured output, input_required and notifications (%s upstream)', async (name) => {
    const c = await connectClient('v2', { kind: 'http', url: `${running!.url}/${name}/mcp` }, { negotiation: 'auto', elicitation: () => ({ action: 'accept', content: { ok: true } }) });
    try {
      expect(c.protocolVersion()).toBe('2026-07-28');
      await c.listTools();
      const t = await c.callTool('leak_text');
      expect(texts(t)).toContain('[REDACTED:github-pat]');
      const s = await c.callTool('leak_structured');
      expect(s['structuredContent']).toEqual({ owner: '[REDACTED:email]', token: '[REDACTED:github-pat]' });
      const strict = await c.callTool('leak_structured_strict');
      expect(strict['isError']).toBe(true);
      const asked = await c.callTool('leak_input_required');
      expect(texts(asked)).toContain('confirmed');
      const elicitation = c.serverRequests.find((r) => r.method === 'elicitation/create');
      expect(elicitation?.params['message']).toBe('Is [REDACTED:email] your account?');
      await c.callTool('leak_log');
      const logs = c.notifications.filter((n) => n.method === 'notifications/message');
      expect(JSON.stringify(logs)).toContain('[REDACTED:github-pat]');
      expectClean([t, s, strict, asked, c.serverRequests, logs]);
    } finally {
      await c.close();
    }
  });

  it('inbound mask rewrites the mirrored Mcp-Param header to match the masked body (remote upstream checks it)', async () => {
    const c = await connectClient('v2', { kind: 'http', url: `${running!.url}/remote/mcp` }, { negotiation: 'auto' });
    try {
      await c.listTools();
      const r = await c.callTool('lookup', { region: `eu-${pat}`, key: 'k' });
      expect(r['isError']).toBeFalsy();
      expect(texts(r)).toContain('k@eu-[REDACTED:github-pat]');
    } finally {
      await c.close();
    }
  });
});
