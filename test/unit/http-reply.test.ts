import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerStatus } from '../../src/proxy/gateway.js';
import { KEEP_UTF8_BYTES, parseFrame, wireWithId, type Wire, WireBytes } from '../../src/protocol/frame.js';
import { ErrorCode } from '../../src/protocol/jsonrpc.js';
import { HttpReply } from '../../src/transports/http-server.js';

/** A loopback server whose every request is answered with the next queued message through an HttpReply. */
let server: http.Server;
let url = '';
const queue: { wire: Wire; stream: boolean }[] = [];
beforeAll(async () => {
  server = http.createServer((_req, res) => {
    const { wire, stream } = queue.shift()!;
    const reply = new HttpReply(res, {}, 0, undefined, (t) => answerStatus(t, true, () => 'Bearer'), stream);
    reply.send(wire, true);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

function frameOf(text: string) {
  const r = parseFrame(text, { maxDepth: 64 }, Buffer.byteLength(text), Buffer.from(text));
  if (!r.ok) throw new Error(r.message);
  return r.frames[0]!;
}

async function answer(wire: Wire, stream = false): Promise<{ status: number; body: string }> {
  queue.push({ wire, stream });
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: await res.text() };
}

describe('an HTTP reply of a large untouched message (its received bytes)', () => {
  const big = 'x'.repeat(KEEP_UTF8_BYTES);

  it('is the same body and status as the text would be: 200 for a result, the mapped status for an error', async () => {
    const result = frameOf(`{"jsonrpc":"2.0","result":{"t":"${big}"},"id":5}`);
    const error = frameOf(`{"jsonrpc":"2.0","id":5,"error":{"code":${ErrorCode.MethodNotFound},"message":"no such method ${big}"}}`);
    for (const frame of [result, error]) {
      const wire = wireWithId(frame, '"client-9"');
      expect(wire).toBeInstanceOf(WireBytes);
      const asBytes = await answer(wire);
      const asText = await answer(String(wire));
      expect(asBytes).toEqual(asText);
      expect(asBytes.body).toBe(String(wire));
    }
    expect((await answer(wireWithId(result, '1'))).status).toBe(200);
    expect((await answer(wireWithId(error, '1'))).status).toBe(404);
  });

  it('as an event stream, carries the same text', async () => {
    const wire = wireWithId(frameOf(`{"jsonrpc":"2.0","id":5,"result":{"t":"${big}"}}`), '3');
    const r = await answer(wire, true);
    expect(r.body).toContain(`data: ${String(wire)}\n`);
  });
});
