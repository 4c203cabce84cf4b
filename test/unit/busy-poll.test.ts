/**
 * Busy-polling after a stdio write (src/transports/busy.ts): the window opens on each line written, keeps the event
 * loop polling (an immediate queued each turn) until it has passed, and then lets the process sleep; 0 turns it off.
 */
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { BUSY_POLL_US, busyPolling, setBusyPoll } from '../../src/transports/busy.js';
import { writeLine } from '../../src/transports/lines.js';

const turn = () => new Promise((r) => setImmediate(r));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

afterEach(() => setBusyPoll(BUSY_POLL_US));

describe('busy-polling after a line is written', () => {
  it('keeps the event loop turning for the window after a line, then stops', async () => {
    setBusyPoll(300_000);
    const out = new PassThrough();
    expect(busyPolling().polling).toBe(false);
    const before = performance.now();
    writeLine(out, '{"jsonrpc":"2.0","id":1,"result":{}}');
    const { polling, until } = busyPolling();
    expect(polling).toBe(true);
    expect(until - before).toBeGreaterThanOrEqual(300);
    expect(until - before).toBeLessThan(350);
    await sleep(20);
    expect(busyPolling().polling).toBe(true);
    while (performance.now() < until + 20) await sleep(25);
    await turn();
    expect(busyPolling().polling).toBe(false);
    expect(out.read().toString()).toBe('{"jsonrpc":"2.0","id":1,"result":{}}\n');
  });

  it('each line extends the window, counted from that line', async () => {
    setBusyPoll(300_000);
    const out = new PassThrough();
    writeLine(out, 'a');
    const first = busyPolling().until;
    await sleep(10);
    const before = performance.now();
    writeLine(out, 'b');
    const second = busyPolling().until;
    expect(second).toBeGreaterThan(first);
    expect(second - before).toBeGreaterThanOrEqual(300);
    while (performance.now() < second + 20) await sleep(25);
    await turn();
    expect(busyPolling().polling).toBe(false);
  });

  it('is off at 0: a line leaves the loop free to sleep', async () => {
    setBusyPoll(0);
    writeLine(new PassThrough(), 'a');
    expect(busyPolling().polling).toBe(false);
    await turn();
    expect(busyPolling().polling).toBe(false);
  });
});
