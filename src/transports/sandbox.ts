/**
 * An opt-in sandbox for stdio servers (`servers.<name>.sandbox`), so a hostile server cannot read what the proxy
 * keeps: its environment through /proc, its state directory (pins, tokens), the audit database, the signing key,
 * the config file.
 *
 * - `bwrap` (bubblewrap, Linux): the root file system read-only, a private /tmp, new PID, IPC and UTS namespaces
 *   with their own /proc (the proxy's processes are not visible), a new session (no TIOCSTI into the terminal), the
 *   proxy's directories replaced by empty tmpfs mounts, optional `--unshare-net`; writable only where `write` says.
 *   The child dies with the sandbox, the sandbox with the proxy.
 * - `user`: the child runs as another OS user (`uid`/`gid`), so file permissions (0600/0700) keep it out; the proxy
 *   must be allowed to switch users (root or CAP_SETUID).
 *
 * A sandbox that is configured but cannot be set up refuses to start the server (fail closed).
 */
import { existsSync, lstatSync, realpathSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface SandboxSpec {
  type: 'bwrap' | 'user';
  /** bwrap: paths the server may write (`~` is the home directory). */
  write?: string[];
  /** bwrap: false = no network at all (`--unshare-net`). Default true. */
  network?: boolean;
  /** bwrap: the bubblewrap binary (default: `bwrap` on PATH). */
  bwrap?: string;
  /** user: the numeric ids to run as. */
  uid?: number;
  gid?: number;
}

export class SandboxError extends Error {}

function expand(p: string): string {
  return p === '~' ? os.homedir() : p.startsWith('~/') ? path.join(os.homedir(), p.slice(2)) : p;
}

function which(cmd: string, envPath: string | undefined): string | undefined {
  if (cmd.includes('/')) return existsSync(cmd) ? cmd : undefined;
  for (const dir of (envPath ?? process.env['PATH'] ?? '').split(path.delimiter)) {
    const p = path.join(dir, cmd);
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

/**
 * The command line that runs `command args` inside the sandbox. `hide` lists the proxy's own files and folders
 * (state directory, audit database folder, key, config): each existing folder gets an empty tmpfs over it, each
 * file /dev/null.
 */
export function bwrapCommand(command: string, args: string[], sb: SandboxSpec, hide: string[], cwd: string | undefined, envPath: string | undefined): { command: string; args: string[] } {
  if (process.platform !== 'linux') throw new SandboxError('sandbox type bwrap needs Linux (bubblewrap)');
  const bwrap = which(sb.bwrap ?? 'bwrap', envPath) ?? which(sb.bwrap ?? 'bwrap', process.env['PATH']);
  if (!bwrap) throw new SandboxError(`sandbox: bubblewrap (${sb.bwrap ?? 'bwrap'}) is not installed; install it (Debian: apt-get install bubblewrap) or remove "sandbox"`);
  const a = ['--die-with-parent', '--new-session', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try'];
  if (sb.network === false) a.push('--unshare-net');
  a.push('--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp');
  // The private /tmp must not hide the server itself: a program, script or working folder under /tmp stays visible
  // (read-only, its top folder under /tmp), while everything else there is gone.
  const own = new Set<string>();
  for (const p of [command, ...args, ...(cwd ? [cwd] : [])]) {
    if (!path.isAbsolute(p)) continue;
    const m = /^\/tmp\/([^/]+)/.exec(path.resolve(p));
    if (m && existsSync(`/tmp/${m[1]}`)) own.add(`/tmp/${m[1]}`);
  }
  for (const p of own) a.push('--ro-bind', p, p);
  for (const w of sb.write ?? []) {
    const p = path.resolve(expand(w));
    if (!existsSync(p)) throw new SandboxError(`sandbox.write: ${p} does not exist`);
    a.push('--bind', p, p);
  }
  // Hidden last, so a writable folder cannot re-expose them.
  // Where a link (or a folder on the way) points: the server could read the target by its own name, and a mount
  // over a link itself fails. Folders are also hidden by the name given (a link to a folder is mounted through).
  const seen = new Set<string>();
  for (const h of hide) {
    const given = path.resolve(h);
    const real = realpathOr(given);
    if (real === undefined) continue;
    const dir = statSync(real).isDirectory();
    for (const p of dir && !lstatSync(given).isSymbolicLink() ? [given, real] : [real]) {
      if (seen.has(p)) continue;
      seen.add(p);
      if (dir) a.push('--tmpfs', p);
      else a.push('--ro-bind', '/dev/null', p);
    }
  }
  if (cwd) a.push('--chdir', path.resolve(cwd));
  a.push('--', command, ...args);
  return { command: bwrap, args: a };
}

function realpathOr(p: string): string | undefined {
  try {
    return realpathSync(p);
  } catch {
    return undefined;
  }
}

export function describeSandbox(sb: SandboxSpec | undefined): string {
  if (!sb) return 'none';
  return sb.type === 'bwrap' ? `bwrap${sb.network === false ? ' (no network)' : ''}` : `user ${sb.uid ?? '?'}:${sb.gid ?? sb.uid ?? '?'}`;
}
