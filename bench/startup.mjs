/**
 * Start-up: how long a host waits from starting the server command to the answer to `tools/list` (after
 * `initialize`), for the bench upstream started directly and through `wrap` with every stage on (a fresh audit
 * database each time, so its creation is counted), and the CPU time `wrap` itself spent by then (the upstream's
 * not counted). Runs alternate between the two; medians are reported.
 *
 *   node bench/startup.mjs [runs]     prints JSON; bench/run.mjs includes it in docs/benchmarks.md
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { cpuUs, pct } from './common.mjs';
import { NODE, open, spawnWrap, UPSTREAM } from './load-stdio.mjs';

async function once(start) {
  const t = performance.now();
  const child = start();
  try {
    await open(child);
    return { ms: performance.now() - t, cpuMs: cpuUs(child.pid) / 1000 };
  } finally {
    child.stdin.end();
    child.kill();
    await new Promise((r) => setTimeout(r, 150));
  }
}

export async function startupBench({ runs = 15 } = {}) {
  const direct = [];
  const wrap = [];
  for (let i = 0; i < runs; i++) {
    direct.push(await once(() => spawn(NODE, [UPSTREAM, 'stdio'], { stdio: ['pipe', 'pipe', 'ignore'] })));
    wrap.push(await once(() => spawnWrap('mcpw-start-', () => []).child));
  }
  const med = (xs, k) => pct(xs.map((x) => x[k]).sort((a, b) => a - b), 50);
  return { runs, direct: med(direct, 'ms'), wrap: med(wrap, 'ms'), wrapCpu: med(wrap, 'cpuMs') };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  startupBench({ runs: Number(process.argv[2] ?? 15) }).then((r) => process.stdout.write(`${JSON.stringify(r, null, 2)}\n`));
}
