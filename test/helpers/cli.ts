/**
 * Running the built CLI in tests: `serve` on an ephemeral port, commands for `wrap`, and cleanup that leaves no
 * process behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '../..');
export const CLI = path.join(ROOT, 'dist/cli/index.js');
export const EVERYTHING = path.join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');
export const NODE = process.execPath;
/** A policy that allows everything, server-initiated sampling included: for tests of the relay itself. */
export const ALLOW_ALL = path.join(ROOT, 'test/fixtures/policies/allow-all.yaml');

export function tmpDir(prefix = 'mcpw-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function writeTemp(name: string, text: string, dir = tmpDir()): string {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}

/** An environment for child processes with no user config, state or logs leaking in. */
export function isolatedEnv(extra: Record<string, string> = {}): Record<string, string> {
  const home = tmpDir('mcpw-home-');
  const env: Record<string, string> = {};
  for (const k of ['PATH', 'LANG', 'TERM']) if (process.env[k]) env[k] = process.env[k]!;
  return { ...env, HOME: home, XDG_CONFIG_HOME: path.join(home, 'config'), XDG_STATE_HOME: path.join(home, 'state'), MCP_WARDEN_LOG_LEVEL: 'warn', ...extra };
}

export interface Running {
  proc: ChildProcess;
  url: string;
  stderr: () => string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Waits until `pattern` shows on the process's stderr; resolves with the match. */
export function waitForStderr(proc: ChildProcess, pattern: RegExp, timeoutMs = 20_000): Promise<{ match: RegExpMatchArray; text: () => string }> {
  let buf = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern} on stderr:\n${buf}`)), timeoutMs);
    proc.stderr!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = buf.match(pattern);
      if (m) {
        clearTimeout(timer);
        resolve({ match: m, text: () => buf });
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`process exited with ${code} before ${pattern}:\n${buf}`));
    });
  });
}

export function stopProcess(proc: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<number | null> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve(proc.exitCode);
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      proc.kill('SIGKILL');
    }, timeoutMs);
    proc.once('exit', (code) => {
      clearTimeout(t);
      resolve(code);
    });
    proc.kill(signal);
  });
}

/** Starts `mcp-warden serve` with the given YAML (port 0) and resolves with its base URL. */
export async function startServe(yaml: string, opts: { env?: Record<string, string>; args?: string[] } = {}): Promise<Running> {
  const dir = tmpDir('mcpw-serve-');
  const file = writeTemp('gateway.yaml', yaml, dir);
  const proc = spawn(NODE, [CLI, 'serve', '--config', file, '--port', '0', ...(opts.args ?? [])], {
    env: opts.env ?? isolatedEnv(),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const { match, text } = await waitForStderr(proc, /mcp-warden serving on (http:\/\/\S+)/);
  return { proc, url: match[1]!, stderr: text, stop: (sig) => stopProcess(proc, sig) };
}

/** Starts server-everything in Streamable HTTP mode on a free port. */
export async function startEverythingHttp(mode: 'streamableHttp' | 'sse' = 'streamableHttp'): Promise<Running> {
  const port = await freePort();
  const proc = spawn(NODE, [EVERYTHING, mode], { env: { PATH: process.env['PATH'] ?? '', PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'] });
  await waitForStderr(proc, /listening on port|Server (is )?running|listening/i);
  const url = mode === 'sse' ? `http://127.0.0.1:${port}/sse` : `http://127.0.0.1:${port}/mcp`;
  return { proc, url, stderr: () => '', stop: (sig) => stopProcess(proc, sig) };
}

export async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export function wrapArgs(...rest: string[]): string[] {
  return [CLI, 'wrap', ...rest];
}

export function writeConfig(yaml: string): string {
  return writeTemp('config.yaml', yaml, tmpDir('mcpw-cfg-'));
}
