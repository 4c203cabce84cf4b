/** Waiting for processes to end, for tests of what survives the proxy. */
import { readFileSync } from 'node:fs';
import { isAlive } from '../../src/proxy/tree.js';

/** The pids for which `still` holds after up to `ms`, checked every 100 ms (empty as soon as none is left). */
async function leftAfter(pids: number[], still: (pid: number) => boolean, ms: number): Promise<number[]> {
  const end = Date.now() + ms;
  let left = pids.filter(still);
  while (left.length && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 100));
    left = pids.filter(still);
  }
  return left;
}

/** The pids still alive (zombies included) after up to `ms`. */
export function gone(pids: number[], ms = 8_000): Promise<number[]> {
  return leftAfter(pids, isAlive, ms);
}

/**
 * Whether `pid` is running: neither gone nor a zombie. A process whose parent died is re-parented to PID 1, and an
 * init that does not reap (a container's, a micro-VM's) leaves it a zombie, which signal 0 still finds.
 */
export function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2) !== 'Z';
  } catch {
    return false;
  }
}

/** The pids still running (zombies not counted) after up to `ms`. */
export function stopped(pids: number[], ms = 8_000): Promise<number[]> {
  return leftAfter(pids, running, ms);
}
