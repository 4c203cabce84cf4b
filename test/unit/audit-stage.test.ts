import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { beforeEach, describe, expect, it } from 'vitest';
import { argsHash, auditStage, type AuditStageOptions } from '../../src/audit/stage.js';
import type { AuditEvent } from '../../src/audit/chain.js';
import type { AuditWriter } from '../../src/audit/writer.js';
import { parseFrame, type Frame } from '../../src/protocol/frame.js';
import type { Exchange } from '../../src/pipeline/types.js';

function frameOf(text: string): Frame {
  const r = parseFrame(text, { maxDepth: 64 });
  if (!r.ok) throw new Error(r.message);
  return r.frames[0]!;
}

/** A client's tools/call as the session hands it to the stages (only what the audit stage reads). */
function callOf(text: string): Exchange {
  return {
    session: { id: 'session-1', server: 'files', transport: 'stdio', tools: new Map(), era: 'legacy' },
    principal: { sub: 'local:me' },
    direction: 'to-server',
    kind: 'request',
    method: 'tools/call',
    message: frameOf(text),
    peerId: 1,
    response: undefined,
    outcome: undefined,
    answeredBy: undefined,
    decision: undefined,
    notes: { target: 'write_file' },
    startedAt: performance.now(),
    endedAt: undefined,
    headers: undefined,
    bytesIn: text.length,
    bytesOut: 0,
  } as unknown as Exchange;
}

/** The server's answer arrives and the response hook runs. */
async function answer(stage: ReturnType<typeof auditStage>, ex: Exchange): Promise<void> {
  ex.response = frameOf('{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"done"}]}}');
  ex.relayIdText = '1';
  ex.outcome = 'ok';
  ex.endedAt = performance.now();
  await stage.response!(ex);
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('the audit stage', () => {
  const key = randomBytes(32);
  const events: AuditEvent[] = [];
  const writer = {
    healthy: true,
    enqueue: (e: AuditEvent) => {
      events.push(e);
      return Promise.resolve();
    },
    record: (e: AuditEvent) => void events.push(e),
  } as unknown as AuditWriter;
  /** How many times the arguments were redacted for capture: the costly part of an event's request fields. */
  let redacted = 0;
  const opts = (capture: AuditStageOptions['capture']): AuditStageOptions => ({
    capture,
    captureMaxBytes: 4096,
    onFailure: 'deny',
    waitForCommit: true,
    argsKey: key,
    redactArgs: (a) => {
      redacted++;
      return JSON.parse(JSON.stringify(a).replaceAll('hunter2', '[REDACTED:password]')) as unknown;
    },
  });
  const call = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"write_file","arguments":{"path":"/srv/x","password":"hunter2","n":12345678901234567891}}}';
  const capturedArgs = '{"n":12345678901234567891,"password":"[REDACTED:password]","path":"/srv/x"}';
  beforeEach(() => {
    events.length = 0;
    redacted = 0;
  });

  it("works out a request's fields once it went to the server, not at the answer, and records what it would have at the answer", async () => {
    const stage = auditStage(writer, opts('redacted'));
    const early = callOf(call);
    stage.forwarded!(early);
    // Not on the way out: the send goes first, the work follows in the same turn of the event loop.
    expect(redacted).toBe(0);
    await turn();
    expect(redacted).toBe(1);
    await answer(stage, early);
    expect(redacted).toBe(1);
    // Without the early start (an exchange no stage was told had gone out), the same event at the answer.
    const late = callOf(call);
    await answer(stage, late);
    expect(redacted).toBe(2);
    expect(events).toHaveLength(2);
    expect(events[0]!.args_sha256).toBe(argsHash(key, '{"n":12345678901234567891,"password":"hunter2","path":"/srv/x"}'));
    expect(events[0]!.args).toBe(capturedArgs);
    const same = ['event', 'session', 'principal_sub', 'server', 'method', 'target', 'status', 'bytes_in', 'bytes_out', 'args', 'args_sha256', 'result_sha256', 'policy_version', 'extra'] as const;
    for (const f of same) expect(events[0]![f], f).toEqual(events[1]![f]);
    expect(events[0]!.id).not.toBe(events[1]!.id);
  });

  it('reads the decision at the answer: a response hook that refuses what the answer carries is recorded', async () => {
    const stage = auditStage(writer, opts('redacted'));
    const ex = callOf(call);
    ex.decision = { effect: 'allow', rule: 'files-ok', mode: 'enforce' };
    stage.forwarded!(ex);
    await turn();
    expect(redacted).toBe(1);
    // The policy stage's response hook refuses a 2026-07-28 input request inside the result.
    ex.decision = { effect: 'deny', rule: 'no-sampling', reason: 'sampling is not allowed', mode: 'enforce' };
    await answer(stage, ex);
    expect(events[0]).toMatchObject({ decision: 'deny', rule: 'no-sampling', reason: 'sampling is not allowed', args: capturedArgs });
  });

  it('leaves an exchange answered before that turn ended to its response hook, and works out no arguments with capture: none', async () => {
    const stage = auditStage(writer, opts('redacted'));
    // The send failed at once: the answer (and its event) came before the deferred work ran, which then does nothing.
    const quick = callOf(call);
    stage.forwarded!(quick);
    await answer(stage, quick);
    expect(redacted).toBe(1);
    await turn();
    expect(redacted).toBe(1);
    expect(events[0]!.args).toBe(capturedArgs);
    const none = auditStage(writer, opts('none'));
    const bare = callOf(call);
    none.forwarded!(bare);
    await turn();
    await answer(none, bare);
    expect(redacted).toBe(1);
    expect([events[1]!.args_sha256, events[1]!.args]).toEqual([null, null]);
  });
});
