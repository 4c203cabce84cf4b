/**
 * A stdio MCP server run as a child process: its own process group, stdout framed as lines, stderr to the log,
 * and a shutdown that ends its whole tree (see proxy/tree.ts). A spawn that fails (command not found,
 * permission, EAGAIN) is reported as a clear error, never a crash.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from '../log/logger.js';
import { signalTree, treeMembers, TREE_TAG_VAR } from '../proxy/tree.js';
import { LineReader, writeLine } from './lines.js';
import { bwrapCommand, SandboxError, type SandboxSpec } from './sandbox.js';
import type { Upstream, UpstreamSendOptions } from './types.js';

export interface ChildSpec {
  command: string;
  args: string[];
  /** The child's whole environment (the caller decides what goes in). */
  env: Record<string, string>;
  cwd?: string;
  /** Run the server in a sandbox (see sandbox.ts); `hide` lists the proxy's own files and folders. */
  sandbox?: SandboxSpec;
  hide?: string[];
}

export interface ChildOptions {
  maxMessageBytes: number;
  /** How long a child gets to exit after its stdin closes, then after SIGTERM. */
  graceMs: number;
  log: Logger;
  server: string;
  /** Masks secrets in a stderr line before it is logged (the server may print its own credentials). */
  scrub?: (text: string) => string;
}

export class SpawnError extends Error {
  readonly code = 'SPAWN_FAILED';
}

/**
 * Windows: `npx` is `npx.cmd`, which only a shell can run; resolve it through PATHEXT and run it with cmd.exe.
 * `verbatim`: the command line is handed to cmd.exe as written (Node's `windowsVerbatimArguments`, which Node sets
 * itself for `shell: true`). Without it Node quotes the last argument again and escapes its quotes with
 * backslashes, which cmd.exe does not read: `"\"C:\…\npx.cmd -y pkg\""` names no program.
 */
export function windowsCommand(spec: Pick<ChildSpec, 'command' | 'args' | 'env'>): { command: string; args: string[]; verbatim?: boolean } {
  const exts = (spec.env['PATHEXT'] ?? process.env['PATHEXT'] ?? '.COM;.EXE;.BAT;.CMD').split(';');
  const dirs = (spec.env['PATH'] ?? spec.env['Path'] ?? process.env['PATH'] ?? '').split(';');
  let resolved = spec.command;
  if (!path.extname(spec.command)) {
    outer: for (const dir of path.isAbsolute(spec.command) ? [''] : dirs) {
      for (const ext of exts) {
        const candidate = path.join(dir, spec.command + ext.toLowerCase());
        if (existsSync(candidate)) {
          resolved = candidate;
          break outer;
        }
      }
    }
  }
  if (/\.(cmd|bat)$/i.test(resolved)) {
    const quote = (a: string) => (/[\s"&|<>^()]/.test(a) ? `"${a.replace(/"/g, '""')}"` : a);
    return { command: process.env['ComSpec'] ?? 'cmd.exe', args: ['/d', '/s', '/c', `"${[resolved, ...spec.args].map(quote).join(' ')}"`], verbatim: true };
  }
  return { command: resolved, args: spec.args };
}

const STDERR_LINES_PER_SECOND = 50;

/**
 * Ends the child's process group if this process dies without ending it (SIGKILL, the kernel's OOM killer): a
 * shell in a group of its own waits for the end of a pipe that only this process holds, and when the kernel closes
 * it, sends SIGKILL to the group. A server that does not exit when its stdin ends (server-everything, a call's timer
 * holding it) would otherwise run on unsupervised. It is itself killed when the child exits, so a normal close
 * leaves nothing. A shell that cannot start costs only this protection.
 */
function startWatchdog(pid: number, opts: ChildOptions): ChildProcess | undefined {
  try {
    const wd = spawn('/bin/sh', ['-c', 'read -r _; kill -s KILL -- "-$1" 2>/dev/null; exit 0', 'mcp-warden-watchdog', String(pid)], {
      stdio: ['pipe', 'ignore', 'ignore'],
      detached: true,
      env: { PATH: '/usr/bin:/bin' },
    });
    wd.on('error', (e) => opts.log.debug({ server: opts.server, err: e.message }, 'no watchdog for the child'));
    wd.stdin!.on('error', () => undefined);
    // Neither the shell nor its pipe keeps this process running.
    wd.unref();
    (wd.stdin as unknown as { unref?: () => void }).unref?.();
    return wd;
  } catch {
    return undefined;
  }
}

export class ChildUpstream implements Upstream {
  readonly kind = 'stdio' as const;
  readonly label: string;
  onmessage?: Upstream['onmessage'];
  onbadmessage?: Upstream['onbadmessage'];
  onclose?: Upstream['onclose'];
  ondrain?: () => void;

  private child: ChildProcess | undefined;
  private readonly tag = randomBytes(12).toString('hex');
  private closing = false;
  /** Set by `hurry`: the close does not wait for the child to exit after its stdin ends. */
  private hurried = false;
  private wakeClose: (() => void) | undefined;
  private exited = false;
  private exitPromise: Promise<void> | undefined;
  private stderrBudget = STDERR_LINES_PER_SECOND;
  private stderrDropped = 0;
  private stderrTimer: NodeJS.Timeout | undefined;
  private watchdog: ChildProcess | undefined;

  constructor(private readonly spec: ChildSpec, private readonly opts: ChildOptions) {
    // The command line goes into the log and the audit trail: a token or a connection string's password passed as an
    // argument (`server-postgres postgresql://user:password@host/db`) is masked like the child's stderr, then cut.
    const line = [spec.command, ...spec.args].join(' ');
    this.label = (opts.scrub ? opts.scrub(line) : line).slice(0, 200);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): Promise<void> {
    const { spec, opts } = this;
    const env = { ...spec.env, [TREE_TAG_VAR]: this.tag };
    let cmd: { command: string; args: string[]; verbatim?: boolean } = process.platform === 'win32' ? windowsCommand(spec) : { command: spec.command, args: spec.args };
    const sb = spec.sandbox;
    if (sb?.type === 'bwrap') {
      try {
        // Credentials are hidden in the proxy's home and in the one the server is told about.
        const homes = [os.homedir(), spec.env['HOME']].filter((h): h is string => !!h);
        const configDirs = [process.env['XDG_CONFIG_HOME'], spec.env['XDG_CONFIG_HOME']].filter((d): d is string => !!d && path.isAbsolute(d));
        cmd = bwrapCommand(spec.command, spec.args, sb, spec.hide ?? [], spec.cwd, spec.env['PATH'], homes, configDirs);
      } catch (e) {
        return Promise.reject(new SpawnError(`could not sandbox ${JSON.stringify(spec.command)}: ${(e as SandboxError).message}`));
      }
    }
    return new Promise((resolve, reject) => {
      let child: ChildProcess;
      try {
        child = spawn(cmd.command, cmd.args, {
          env,
          cwd: spec.cwd,
          ...(sb?.type === 'user' ? { uid: sb.uid, gid: sb.gid ?? sb.uid } : {}),
          stdio: ['pipe', 'pipe', 'pipe'],
          detached: process.platform !== 'win32',
          windowsHide: true,
          windowsVerbatimArguments: cmd.verbatim === true,
          shell: false,
        });
      } catch (e) {
        reject(new SpawnError(`could not start ${JSON.stringify(spec.command)}: ${(e as Error).message}`));
        return;
      }
      this.child = child;
      let started = false;
      child.once('spawn', () => {
        started = true;
        if (child.pid !== undefined && process.platform !== 'win32') this.watchdog = startWatchdog(child.pid, opts);
        resolve();
      });
      child.once('error', (err: NodeJS.ErrnoException) => {
        if (!started) {
          const hint = err.code === 'ENOENT' ? ' (command not found; check the command and PATH)' : err.code === 'EACCES' ? ' (permission denied)' : '';
          reject(new SpawnError(`could not start ${JSON.stringify(spec.command)}: ${err.code ?? err.message}${hint}`));
          this.exited = true;
          return;
        }
        opts.log.warn({ server: opts.server, err: err.message }, 'child process error');
      });
      const reader = new LineReader(opts.maxMessageBytes, {
        line: (text, bytes, utf8) => this.onmessage?.(text, bytes, undefined, utf8),
        invalid: (bytes) => this.onbadmessage?.('invalid-utf8', '', bytes),
        oversize: (prefix, bytes) => this.onbadmessage?.('oversize', prefix, bytes),
      });
      child.stdout!.on('data', (chunk: Buffer) => reader.push(chunk));
      child.stdout!.on('error', () => undefined);
      child.stdin!.on('error', (err) => opts.log.debug({ server: opts.server, err: err.message }, 'child stdin error'));
      child.stdin!.on('drain', () => this.ondrain?.());
      this.pipeStderr(child);
      this.exitPromise = new Promise<void>((done) => {
        child.once('exit', (code, signal) => {
          this.exited = true;
          // Its group is gone; what it left behind is reaped here (reapLeftovers), not by the watchdog.
          this.watchdog?.kill('SIGKILL');
          this.watchdog = undefined;
          // Let the last stdout bytes arrive, but do not wait on a grandchild that holds the pipe open.
          const finish = () => {
            done();
            this.reapLeftovers();
            this.onclose?.({ reason: signal ? `exited on ${signal}` : `exited with code ${code}`, unexpected: !this.closing, exitCode: code, signal });
          };
          if (child.stdout!.readableEnded) finish();
          else {
            const t = setTimeout(finish, 100);
            child.stdout!.once('end', () => {
              clearTimeout(t);
              finish();
            });
          }
        });
      });
    });
  }

  private pipeStderr(child: ChildProcess): void {
    const { log, server } = this.opts;
    const reader = new LineReader(64 * 1024, {
      line: (text) => {
        if (this.stderrBudget > 0) {
          this.stderrBudget--;
          // Cut before masking would split a secret at the cut and leave its head readable; mask, then cut.
          const shown = this.opts.scrub ? this.opts.scrub(text) : text;
          log.info({ server, stream: 'stderr' }, shown.length > 4000 ? `${shown.slice(0, 4000)}…` : shown);
        } else this.stderrDropped++;
      },
      invalid: () => undefined,
      oversize: (_p, bytes) => log.info({ server, stream: 'stderr', bytes }, 'long stderr line not logged'),
    });
    child.stderr!.on('data', (c: Buffer) => reader.push(c));
    child.stderr!.on('error', () => undefined);
    this.stderrTimer = setInterval(() => {
      if (this.stderrDropped > 0) log.warn({ server, stream: 'stderr', dropped: this.stderrDropped }, 'stderr lines not logged (rate limit)');
      this.stderrDropped = 0;
      this.stderrBudget = STDERR_LINES_PER_SECOND;
    }, 1000);
    this.stderrTimer.unref();
  }

  send(text: string, _opts: UpstreamSendOptions): boolean {
    const stdin = this.child?.stdin;
    if (!stdin || stdin.destroyed || this.exited) return true;
    return writeLine(stdin, text);
  }

  pause(): void {
    this.child?.stdout?.pause();
  }

  resume(): void {
    this.child?.stdout?.resume();
  }

  /** Descendants left behind after the child exited (orphans, `setsid` escapees) are ended too. */
  private reapLeftovers(): void {
    if (this.stderrTimer) clearInterval(this.stderrTimer);
    const left = treeMembers(undefined, this.tag);
    if (left.size === 0) return;
    signalTree(undefined, this.tag, 'SIGTERM');
    setTimeout(() => signalTree(undefined, this.tag, 'SIGKILL'), this.opts.graceMs).unref();
  }

  /**
   * A host that stops `wrap` with a signal has waited for it already, and gives it no more than the same grace before
   * SIGKILL, which no child survives unorphaned: the child gets SIGTERM now, not after its own wait for stdin's end.
   */
  hurry(): void {
    this.hurried = true;
    this.wakeClose?.();
  }

  /**
   * Close stdin, wait, SIGTERM the tree, wait, SIGKILL the tree (the MCP stdio shutdown sequence, applied to
   * every descendant). Resolves when no member of the tree is left, or after the last signal.
   */
  async close(): Promise<void> {
    if (this.closing) return this.exitPromise;
    this.closing = true;
    const child = this.child;
    if (!child || child.pid === undefined) return;
    const pid = child.pid;
    const { graceMs } = this.opts;
    const exited = this.exitPromise ?? Promise.resolve();
    const waitExit = (ms: number) => Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref())]);
    try {
      child.stdin?.end();
    } catch {
      /* already closed */
    }
    if (!this.exited) {
      // The end of stdin is the polite request; hurry() cuts the wait for it short.
      const polite = this.hurried ? false : await Promise.race([waitExit(graceMs), new Promise<boolean>((r) => (this.wakeClose = () => r(false)))]);
      this.wakeClose = undefined;
      if (!polite && !this.exited) {
        signalTree(pid, this.tag, 'SIGTERM');
        // Hurried, the SIGKILL comes within the host's own grace for us, not at its end.
        if (!(await waitExit(this.hurried ? graceMs >> 1 : graceMs))) signalTree(pid, this.tag, 'SIGKILL');
        await waitExit(graceMs);
      }
    }
    // The child is gone; make sure nothing it started outlives it.
    if (treeMembers(undefined, this.tag).size > 0) {
      signalTree(pid, this.tag, 'SIGTERM');
      const deadline = Date.now() + graceMs;
      while (Date.now() < deadline && treeMembers(undefined, this.tag).size > 0) await new Promise((r) => setTimeout(r, 50));
      signalTree(pid, this.tag, 'SIGKILL');
    }
    if (this.stderrTimer) clearInterval(this.stderrTimer);
  }
}
