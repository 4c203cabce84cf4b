/**
 * Issue 2, done-when 1: the same scripted session, run by the official SDK clients (1.x and v2) against
 * server-everything directly and through every mcp-warden path, gives the same results.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, type Sdk, type Target } from '../helpers/clients.js';
import { ALLOW_ALL, EVERYTHING, NODE, isolatedEnv, startEverythingHttp, startServe, wrapArgs, type Running } from '../helpers/cli.js';
import { everythingSession } from '../helpers/everything-session.js';
import { RawStdio, text } from '../helpers/raw.js';

const SDKS: Sdk[] = ['v1', 'v2'];

let everythingHttp: Running;
let gateway: Running;

beforeAll(async () => {
  everythingHttp = await startEverythingHttp();
  gateway = await startServe(`servers:\n  everything:\n    command: ${JSON.stringify(NODE)}\n    args: [${JSON.stringify(EVERYTHING)}, stdio]\npolicy: [${JSON.stringify(ALLOW_ALL)}]\n`);
});

afterAll(async () => {
  await gateway?.stop();
  await everythingHttp?.stop();
});

async function run(sdk: Sdk, target: Target): Promise<Record<string, unknown>> {
  const c = await connectClient(sdk, target);
  try {
    return await everythingSession(c);
  } finally {
    await c.close();
  }
}

describe.each(SDKS)('the %s SDK client sees the same session through every path', (sdk) => {
  let baseline: Record<string, unknown>;

  it('directly over stdio (baseline)', async () => {
    baseline = await run(sdk, { kind: 'stdio', command: NODE, args: [EVERYTHING, 'stdio'] });
    expect(baseline['server']).toBe('mcp-servers/everything');
    expect(baseline['cancelled']).toBe('aborted');
    expect(baseline['serverRequests']).toEqual(['elicitation/create', 'roots/list', 'sampling/createMessage']);
    expect(baseline['progress']).toBe(true);
  });

  it('through wrap (stdio ⇄ stdio child)', async () => {
    const got = await run(sdk, { kind: 'stdio', command: NODE, args: wrapArgs('--policy', ALLOW_ALL, '--', NODE, EVERYTHING, 'stdio'), env: isolatedEnv() });
    expect(got).toEqual(baseline);
  });

  it('directly over Streamable HTTP', async () => {
    const got = await run(sdk, { kind: 'http', url: everythingHttp.url });
    expect(got).toEqual(baseline);
  });

  it('through wrap --url (stdio ⇄ Streamable HTTP upstream)', async () => {
    const got = await run(sdk, { kind: 'stdio', command: NODE, args: wrapArgs('--policy', ALLOW_ALL, '--url', everythingHttp.url), env: isolatedEnv() });
    expect(got).toEqual(baseline);
  });

  it('through serve (Streamable HTTP ⇄ stdio child)', async () => {
    const got = await run(sdk, { kind: 'http', url: `${gateway.url}/everything/mcp` });
    expect(got).toEqual(baseline);
  });
});

describe('wrap --url: a host that writes initialize and its first messages at once (as it may over stdio)', () => {
  for (const mode of ['streamableHttp', 'sse'] as const) {
    it(mode === 'sse' ? 'legacy HTTP+SSE, found by falling back' : 'Streamable HTTP', async () => {
      const up = mode === 'sse' ? await startEverythingHttp('sse') : everythingHttp;
      try {
        const peer = new RawStdio(NODE, wrapArgs('--policy', ALLOW_ALL, '--url', up.url), isolatedEnv());
        peer.send({ id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
        peer.send({ method: 'notifications/initialized' });
        peer.send({ id: 2, method: 'ping' });
        peer.send({ id: 3, method: 'tools/call', params: { name: 'echo', arguments: { message: 'at once' } } });
        expect((await peer.reply(1)).result?.['serverInfo']).toMatchObject({ name: 'mcp-servers/everything' });
        expect(await peer.reply(2)).toMatchObject({ result: {} });
        expect(text(await peer.reply(3))).toBe('Echo: at once');
        // Sent before the session id was known, the notification was refused with HTTP 400 (logged as a warning).
        expect(peer.stderr).not.toMatch(/upstream refused a message/);
        expect(await peer.close()).toBe(0);
      } finally {
        if (mode === 'sse') await up.stop();
      }
    });
  }
});
