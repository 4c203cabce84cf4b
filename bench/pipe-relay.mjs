#!/usr/bin/env node
/**
 * The floor of any stdio proxy: a Node process that starts the server and copies bytes both ways, nothing else.
 * `npm run bench` runs it as a lane so the cost of the extra process hop itself is visible next to `wrap`.
 *
 * With `--burn-us N` it becomes a model proxy instead: it splits the stream into lines and keeps the CPU busy for
 * N/2 µs per line (a request and its response: N µs per call), then forwards each read's lines in one write. The
 * bench runs it at several N to measure how much CPU a stdio proxy may spend per call and keep a given share of
 * the direct throughput on this machine.
 *
 *   node bench/pipe-relay.mjs [--burn-us N] -- COMMAND [ARGS…]
 */
import { spawn } from 'node:child_process';

const at = process.argv.indexOf('--');
const opts = process.argv.slice(2, at);
const burnUs = opts[0] === '--burn-us' ? Number(opts[1]) : 0;
const [command, ...args] = process.argv.slice(at + 1);
const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
if (burnUs > 0) {
  const perLineMs = burnUs / 2 / 1000;
  const burn = () => {
    const end = performance.now() + perLineMs;
    while (performance.now() < end);
  };
  const relay = (from, to) => {
    let rest = '';
    from.setEncoding('utf8');
    from.on('data', (chunk) => {
      const text = rest + chunk;
      const last = text.lastIndexOf('\n');
      if (last < 0) {
        rest = text;
        return;
      }
      for (let i = text.indexOf('\n'); i >= 0 && i <= last; i = text.indexOf('\n', i + 1)) burn();
      rest = text.slice(last + 1);
      to.write(text.slice(0, last + 1));
    });
    from.on('end', () => to.end());
  };
  relay(process.stdin, child.stdin);
  relay(child.stdout, process.stdout);
} else {
  process.stdin.pipe(child.stdin);
  child.stdout.pipe(process.stdout);
  process.stdin.on('end', () => child.stdin.end());
}
child.on('exit', (code) => process.exit(code ?? 0));
