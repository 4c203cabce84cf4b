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
  /** bwrap: paths bound back read-only after the home directory or credentials are hidden (`~` is the home directory). */
  read?: string[];
  /** bwrap: more files or folders to hide (empty in the sandbox). */
  hide?: string[];
  /**
   * bwrap: what of the home directory the server sees. `credentials` (default): all of it but the well-known places
   * where keys and tokens live (CREDENTIAL_PATHS); `hidden`: nothing but what `read` and `write` name and the server's
   * own program; `visible`: all of it.
   */
  home?: 'credentials' | 'hidden' | 'visible';
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

/**
 * Where keys, tokens and sessions of other programs live under a home directory: SSH and GPG keys, cloud and
 * cluster credentials, package registry and git tokens, password stores and keyrings, browser profiles (cookies,
 * saved passwords), and the MCP hosts' own configs, which hold other servers' API keys in their `env`. Hidden by
 * default in a bwrap sandbox (`home: credentials`); a server that needs one names it in `read`.
 */
export const CREDENTIAL_PATHS: readonly string[] = [
  '.ssh', '.gnupg', '.netrc', '.git-credentials', '.aws', '.azure', '.kube', '.docker/config.json', '.oci',
  '.npmrc', '.yarnrc.yml', '.pypirc', '.cargo/credentials', '.cargo/credentials.toml', '.gem/credentials',
  '.terraform.d/credentials.tfrc.json', '.vault-token', '.pgpass', '.my.cnf', '.password-store',
  '.local/share/keyrings', '.mozilla', '.thunderbird', '.pki',
  '.claude', '.claude.json', '.cursor', '.codeium', '.gemini', '.continue', '.vscode-server/data/User',
  // Coding agents' own logins and MCP configs: GitHub Copilot CLI (~/.copilot: mcp-config.json, its login), OpenAI
  // Codex (auth.json), opencode (auth.json with provider API keys), Kiro (settings/mcp.json with servers' env).
  '.copilot', '.codex', '.local/share/opencode', '.kiro',
];
/** The same, under the XDG config folder (`~/.config` unless XDG_CONFIG_HOME says otherwise). */
export const CREDENTIAL_CONFIG_PATHS: readonly string[] = [
  'gcloud', 'gh', 'hub', 'doctl', 'op', 'rclone', 'git/credentials', 'Claude', 'Code/User', 'Code - Insiders/User',
  'Cursor/User', 'VSCodium/User', 'Windsurf/User', 'google-chrome', 'chromium', 'BraveSoftware', 'microsoft-edge', 'mcp-warden',
  // (The editors' User folders hold the MCP settings of agents run as extensions: Cline, Roo Code, Kilo Code.)
  // GitHub Copilot's editor login (apps.json, hosts.json: a GitHub OAuth token), and agents' configs with servers' env.
  'github-copilot', 'opencode', 'goose', 'zed',
];

/** The credential places that exist under these homes and config folders. */
export function credentialPaths(homes: string[], configDirs: string[]): string[] {
  const out = new Set<string>();
  const add = (p: string) => {
    if (existsSync(p) || isLink(p)) out.add(p);
  };
  for (const h of homes) {
    for (const c of CREDENTIAL_PATHS) add(path.join(h, c));
    for (const c of CREDENTIAL_CONFIG_PATHS) add(path.join(h, '.config', c));
  }
  for (const d of configDirs) for (const c of CREDENTIAL_CONFIG_PATHS) add(path.join(d, c));
  return [...out];
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/** `inner` is `outer` or inside it. */
function within(inner: string, outer: string): boolean {
  const rel = path.relative(outer, inner);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
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
 * file /dev/null. `homes`: the home directories whose credentials are hidden (the proxy's, and the server's HOME);
 * `configDirs`: XDG config folders elsewhere.
 */
export function bwrapCommand(
  command: string,
  args: string[],
  sb: SandboxSpec,
  hide: string[],
  cwd: string | undefined,
  envPath: string | undefined,
  homes: string[] = [os.homedir()],
  configDirs: string[] = [],
): { command: string; args: string[] } {
  if (process.platform !== 'linux') throw new SandboxError('sandbox type bwrap needs Linux (bubblewrap)');
  const bwrap = which(sb.bwrap ?? 'bwrap', envPath) ?? which(sb.bwrap ?? 'bwrap', process.env['PATH']);
  if (!bwrap) throw new SandboxError(`sandbox: bubblewrap (${sb.bwrap ?? 'bwrap'}) is not installed; install it (Debian: apt-get install bubblewrap) or remove "sandbox"`);
  const a = ['--die-with-parent', '--new-session', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try'];
  if (sb.network === false) a.push('--unshare-net');
  a.push('--ro-bind', '/', '/', '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp');
  const home = sb.home ?? 'credentials';
  const homeDirs = [...new Set(homes.filter((h) => path.isAbsolute(h) && h !== '/').map((h) => path.resolve(h)))];
  // The private /tmp (and a hidden home) must not hide the server itself: a program, script or working folder
  // there stays visible (read-only, its top folder under /tmp or the home), while everything else there is gone.
  const tops = ['/tmp', ...(home === 'hidden' ? homeDirs : [])];
  const resolved = which(command, envPath);
  const ownPaths = [command, ...(resolved ? [resolved] : []), ...args, ...(cwd ? [cwd] : [])].filter((p) => path.isAbsolute(p)).map((p) => path.resolve(p));
  /** The first folder under `top` on the way to each of the server's own paths inside it. */
  const firstUnder = (top: string): string[] => {
    const out: string[] = [];
    for (const abs of ownPaths) {
      if (!within(abs, top) || abs === top) continue;
      const first = path.join(top, path.relative(top, abs).split(path.sep)[0]!);
      if (existsSync(first)) out.push(first);
    }
    return out;
  };
  const own = new Set(tops.flatMap(firstUnder));
  if (home === 'hidden') for (const h of homeDirs) if (existsSync(h)) a.push('--tmpfs', h);
  for (const p of own) a.push('--ro-bind', p, p);
  const binds: { p: string; flag: '--ro-bind' | '--bind' }[] = [];
  for (const [list, flag, key] of [[sb.read, '--ro-bind', 'read'], [sb.write, '--bind', 'write']] as const) {
    for (const w of list ?? []) {
      const p = path.resolve(expand(w));
      if (!existsSync(p)) throw new SandboxError(`sandbox.${key}: ${p} does not exist`);
      binds.push({ p, flag });
    }
  }
  // Credentials are hidden after the broad binds (`write: [~]` does not re-expose ~/.ssh) and before the binds that
  // name a place at or inside one (`read: [~/.aws]` does).
  // Under a hidden home only those a bind brings back need hiding (a mount would leave an empty name behind).
  const shown = [...own, ...binds.map((b) => b.p)];
  const creds = home === 'visible' ? [] : credentialPaths(homeDirs, configDirs).filter((c) => home !== 'hidden' || !homeDirs.some((h) => within(c, h)) || shown.some((p) => within(c, p)));
  const named = (b: { p: string }) => creds.some((c) => within(b.p, c));
  for (const b of binds) if (!named(b)) a.push(b.flag, b.p, b.p);
  const seen = new Set<string>();
  const hideAll = (paths: string[]) => {
    // Where a link (or a folder on the way) points: the server could read the target by its own name, and a mount
    // over a link itself fails. Folders are also hidden by the name given (a link to a folder is mounted through).
    for (const h of paths) {
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
  };
  hideAll(creds);
  // A server installed inside one of them (an editor extension under ~/.cursor/extensions, a Claude Code plugin
  // under ~/.claude/plugins) keeps its own folder there, read-only; the rest of the place stays hidden.
  for (const p of new Set(creds.flatMap(firstUnder))) if (!creds.includes(p)) a.push('--ro-bind', p, p);
  for (const b of binds) if (named(b)) a.push(b.flag, b.p, b.p);
  seen.clear();
  // The operator's own list (what does not exist is skipped), then the proxy's files: last, so no bind re-exposes them.
  hideAll([...(sb.hide ?? []).map((h) => expand(h)), ...hide]);
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
