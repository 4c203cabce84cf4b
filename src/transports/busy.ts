/**
 * Busy-polling after a stdio write (`limits.busy_poll_us`): for that long after the proxy last wrote a line to the
 * host or a child, the event loop keeps turning with nothing to wait for, so it polls its pipes without sleeping. An
 * answer that arrives within the window (the server's to a request just forwarded, the host's next request after a
 * response) is read at once instead of after the process is woken from sleep, which on a virtual machine costs tens of
 * microseconds per hop. Measured (docs/benchmarks.md): `wrap`'s added latency per sequential call roughly halved, the
 * calls/s with 16 in flight the same. The price is CPU time while the window is open and nothing arrives: at most
 * the window per line written, nothing while the proxy is quiet. 0 turns it off.
 */
import { performance } from 'node:perf_hooks';

/** Default window (µs). */
export const BUSY_POLL_US = 150;

let windowMs = BUSY_POLL_US / 1000;
let until = 0;
let polling = false;

function poll(): void {
  if (performance.now() < until) setImmediate(poll);
  else polling = false;
}

/** Sets the window for this process (µs; 0: off). */
export function setBusyPoll(us: number): void {
  windowMs = us > 0 ? us / 1000 : 0;
}

/** Opens (or extends) the window: called on every line written. */
export function stayAwake(): void {
  if (windowMs === 0) return;
  until = performance.now() + windowMs;
  if (!polling) {
    polling = true;
    setImmediate(poll);
  }
}

/** Whether the loop is polling now, and until when (performance.now() time): tests. */
export function busyPolling(): { polling: boolean; until: number } {
  return { polling, until };
}
