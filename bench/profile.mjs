/**
 * Where `wrap`'s time goes: the full pipeline (policy, secrets/pii redaction, strict audit) run under
 * `node --cpu-prof`, driven by a lean stdio client (raw JSON lines, no SDK) with 16 calls in flight, and the
 * profile's samples from the measured phase only (the start-up is left out) split by the part of mcp-warden
 * that was running: each sample goes to the innermost stage (audit, redaction, policy) on its stack, else to the
 * innermost mcp-warden frame, so native work (SQLite, hashing, RE2, system calls) and shared helpers count for
 * the code that asked for them.
 *
 * Also usable alone: `node bench/profile.mjs [calls]` prints the table.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { open, ROOT, spawnServe, spawnWrap } from './load-stdio.mjs';

/** What each source file of dist/ is, for the table. */
const PARTS = [
  [/^transports\/busy\.js$/, 'busy-polling: the loop turning while it waits for an answer (limits.busy_poll_us)'],
  [/^audit\/(store|chain|writer|keys)\.js$/, 'audit: hash chain, MAC, SQLite insert and commit'],
  [/^audit\//, 'audit: building the event (hashes of arguments and result, capture)'],
  [/^redact\//, 'redaction: prefilter and detectors (request arguments and result)'],
  [/^policy\//, 'policy: rules and argument checks'],
  [/^protocol\//, 'parsing and serialising JSON-RPC'],
  [/^transports\/(http|sse)/, 'HTTP: requests and responses'],
  [/^transports\//, 'reading and writing lines (stdio)'],
  [/^proxy\/gateway/, 'HTTP gateway: routing, Host/Origin, sessions'],
  [/^(proxy|pipeline)\//, 'session: ids, exchanges, stage runner'],
  [/^(log|pin|ops|auth)\//, 'logging, pins, binding'],
  [/./, 'other mcp-warden code'],
];

export function attribute(profileFile, from, to, calls) {
  const p = JSON.parse(readFileSync(profileFile, 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const dist = `${path.join(ROOT, 'dist')}/`;
  const partOf = new Map();
  const part = (id) => {
    if (partOf.has(id)) return partOf.get(id);
    // The innermost stage on the stack (audit, redaction, policy) owns the sample, so shared helpers (canonical
    // JSON, hashing) count for the stage that called them; outside the stages, the innermost mcp-warden frame.
    let label;
    let stage;
    for (let cur = id; cur !== undefined && !stage; cur = parent.get(cur)) {
      const url = byId.get(cur).callFrame.url.replace(/^file:\/\//, '');
      if (!url.startsWith(dist)) continue;
      const rel = url.slice(dist.length);
      const l = PARTS.find(([re]) => re.test(rel))[1];
      label ??= l;
      if (/^(audit|redact|policy)\//.test(rel)) stage = l;
    }
    label = stage ?? label;
    if (!label) {
      const name = byId.get(id).callFrame.functionName;
      label = name === '(idle)' ? 'idle (waiting for the client or the server)' : name === '(garbage collector)' ? 'garbage collection' : 'Node.js and V8 outside mcp-warden code (event loop, streams, microtasks)';
    }
    partOf.set(id, label);
    return label;
  };
  const us = new Map();
  let t = p.startTime;
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0;
    t += dt;
    if (t < from || t > to) continue;
    const label = part(p.samples[i]);
    us.set(label, (us.get(label) ?? 0) + dt);
    total += dt;
  }
  const busy = total - (us.get('idle (waiting for the client or the server)') ?? 0);
  return { perCall: [...us].sort((a, b) => b[1] - a[1]).map(([label, v]) => ({ label, us: v / calls, share: v / total })), busyPerCall: busy / calls };
}

/** Runs the profile; returns calls/s, CPU per call and the split. */
export async function profileWrap({ calls = 30_000, inFlight = 16 } = {}) {
  const { tmp, child } = spawnWrap('mcpw-profile-', (dir) => ['--cpu-prof', '--cpu-prof-dir', path.join(dir, 'prof')]);
  const profDir = path.join(tmp, 'prof');
  const client = await open(child);
  for (let i = 0; i < 2000; i++) await client.call('echo', { text: 'warm' });
  const run = await client.run(calls, inFlight);
  child.stdin.end();
  await new Promise((r) => child.once('exit', r));
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error('no CPU profile written');
  return { rate: run.rate, calls, inFlight, ...attribute(path.join(profDir, file), run.from, run.to, calls) };
}

/** The same for `serve` (full pipeline, one stdio child per session) under the lean HTTP load generator. */
export async function profileServe({ calls = 20_000, inFlight = 16 } = {}) {
  const { HttpLoad } = await import('./load-http.mjs');
  const { tmp, gw, url } = await spawnServe('mcpw-profile-', (dir) => ['--cpu-prof', '--cpu-prof-dir', path.join(dir, 'prof')]);
  const profDir = path.join(tmp, 'prof');
  const load = new HttpLoad(url, { connections: inFlight });
  await load.open();
  for (let i = 0; i < 1000; i++) await load.call('warm');
  const from = Number(process.hrtime.bigint() / 1000n);
  const sat = await load.saturate(calls, inFlight);
  const to = Number(process.hrtime.bigint() / 1000n);
  load.close();
  gw.kill('SIGTERM');
  await new Promise((r) => gw.once('exit', r));
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error('no CPU profile written');
  return { rate: sat.rate, calls, inFlight, ...attribute(path.join(profDir, file), from, to, calls) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv[2] === 'serve') {
    const r = await profileServe({ calls: Number(process.argv[3] ?? 20_000) });
    console.log(`${r.rate.toFixed(0)} calls/s under the profiler; ${r.busyPerCall.toFixed(1)} µs of CPU per call`);
    for (const x of r.perCall) console.log(`${x.us.toFixed(1).padStart(7)} µs ${(100 * x.share).toFixed(1).padStart(5)}%  ${x.label}`);
    process.exit(0);
  }
  const r = await profileWrap({ calls: Number(process.argv[2] ?? 30_000) });
  console.log(`${r.rate.toFixed(0)} calls/s under the profiler; ${r.busyPerCall.toFixed(1)} µs of CPU per call`);
  for (const x of r.perCall) console.log(`${x.us.toFixed(1).padStart(7)} µs ${(100 * x.share).toFixed(1).padStart(5)}%  ${x.label}`);
}
