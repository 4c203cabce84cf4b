/**
 * Helpers every bench script shares: percentiles, what /proc says about a process, and the SDK client over stdio
 * (opened, used, closed) with the loop that keeps calls in flight.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

/** The p-th percentile of sorted numbers. */
export function pct(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** A kB field of /proc/PID/status (VmRSS, VmHWM) in MB; NaN once the process is gone. */
export function procStatusMb(pid, field) {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** CPU time (user + system) a process and its threads have used, in µs; NaN once it is gone. */
export function cpuUs(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100;
  } catch {
    return NaN;
  }
}

/** Minor page faults of a process so far (each a page of memory it touched for the first time); NaN once it is gone. */
export function minorFaults(pid) {
  try {
    return Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[7]);
  } catch {
    return NaN;
  }
}

/**
 * What touching fresh memory costs on this machine, per 4 KiB page, in µs: a 64 MiB Buffer (past glibc's largest
 * mmap threshold, so its pages are new to the process) filled once, as its pages fault in, and again, when they
 * are there; the difference over the faults the first fill took (median of three): `{ us }`.
 */
export function pageFaultCostUs() {
  const runs = [];
  for (let i = 0; i < 3; i++) {
    const b = Buffer.allocUnsafeSlow(64 << 20);
    const f0 = process.resourceUsage().minorPageFault;
    let s = performance.now();
    b.fill(1);
    const first = performance.now() - s;
    const faults = process.resourceUsage().minorPageFault - f0;
    s = performance.now();
    b.fill(2);
    const again = performance.now() - s;
    if (faults > 0) runs.push({ us: ((first - again) * 1000) / faults });
  }
  runs.sort((x, y) => x.us - y.us);
  return runs[1] ?? runs[0];
}

/** The first child of a process (the server behind a relay), if any. */
export function childOf(pid) {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/)[0]) || undefined;
  } catch {
    return undefined;
  }
}

/** Starts `command` as an SDK stdio client's server, runs `work(client, pid)`, and closes the client. */
export async function withStdioClient(command, args, env, work, transportOptions = {}) {
  const transport = new StdioClientTransport({ command, args, env, stderr: 'ignore', ...transportOptions });
  const client = new Client({ name: 'bench', version: '1' });
  await client.connect(transport);
  try {
    return await work(client, transport.pid);
  } finally {
    await client.close().catch(() => undefined);
  }
}

/** `calls` small echo calls with `inFlight` outstanding at a time, every answer checked; the seconds they took. */
export async function echoInFlight(client, calls, inFlight = 16) {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next++ < calls) {
        const r = await client.callTool({ name: 'echo', arguments: { text: 'c' } });
        if (r.content?.[0]?.text !== 'c') throw new Error('wrong answer under load');
      }
    }),
  );
  return (performance.now() - t0) / 1000;
}
