/** Waiting for processes to end, for tests of what survives the proxy. */
import { isAlive } from '../../src/proxy/tree.js';

/** The pids still alive after up to `ms`, checked every 100 ms (empty as soon as all are gone). */
export async function gone(pids: number[], ms = 8_000): Promise<number[]> {
  const end = Date.now() + ms;
  let alive = pids.filter(isAlive);
  while (alive.length && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 100));
    alive = pids.filter(isAlive);
  }
  return alive;
}
