#!/usr/bin/env node
/**
 * The floor of any stdio proxy: a Node process that starts the server and copies bytes both ways, nothing else.
 * `npm run bench` runs it as a lane so the cost of the extra process hop itself is visible next to `wrap`.
 *
 *   node bench/pipe-relay.mjs -- COMMAND [ARGS…]
 */
import { spawn } from 'node:child_process';

const at = process.argv.indexOf('--');
const [command, ...args] = process.argv.slice(at + 1);
const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
process.stdin.pipe(child.stdin);
child.stdout.pipe(process.stdout);
child.on('exit', (code) => process.exit(code ?? 0));
process.stdin.on('end', () => child.stdin.end());
