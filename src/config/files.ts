/**
 * Files that must be created once even when several processes start together (keys): write a private temp file,
 * then hard-link it into place; whoever loses the race reads the winner's file.
 */
import { randomBytes } from 'node:crypto';
import { accessSync, constants, linkSync, lstatSync, readFileSync, realpathSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, makeParent } from '../errors.js';

export function createOnce(file: string, content: string | Buffer): void {
  makeParent(file);
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, content, { mode: 0o600, flag: 'wx' });
  try {
    linkSync(tmp, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  } finally {
    unlinkSync(tmp);
  }
}

/** A random 32-byte key kept in `file` (created on first use). */
export function loadOrCreateRandomKey(file: string): Buffer {
  try {
    return decodeKey(readFileSync(file, 'utf8'), file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  createOnce(file, `${randomBytes(32).toString('base64')}\n`);
  return decodeKey(readFileSync(file, 'utf8'), file);
}

function decodeKey(text: string, file: string): Buffer {
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length < 16) throw new Error(`${file}: not a key (expected at least 16 bytes, base64)`);
  return key;
}

/**
 * Why another user of this machine could change `file`, or undefined. A file that decides what the proxy lets
 * through (its config, a policy, a redaction pack, the pin lock file, the keys tokens are checked with) is refused
 * when every user can write it, or when it sits in a directory every user can write without the sticky bit (anyone
 * could put another file in its place), on its path as given or after its links; sshd refuses its keys for the same
 * reason. In a folder every user can write with the sticky bit (`/tmp`), what lies on the path there must be the
 * caller's or root's: the bit keeps others from replacing those, not from owning what they put there first (the file, or
 * a folder it is in). Group permissions are allowed (a team's shared folder), and so is anything on a read-only mount. A file
 * that cannot be read is left to its reader, which says why; its folders are still checked (a lock file is written
 * later). Windows has no such bits: nothing is checked there. `foldersOnly`: the file's own mode is left to its reader
 * (the audit signing key's, which also refuses a key every user can read).
 */
export function othersCanChange(file: string, foldersOnly = false): string | undefined {
  if (process.platform === 'win32') return undefined;
  const abs = path.resolve(file);
  let mode = 0;
  try {
    mode = statSync(abs).mode;
  } catch {
    /* not there (yet): a lock file written later; its folders still count */
  }
  if (!foldersOnly && mode & 0o002 && !readOnlyMount(abs)) return `every user of this machine can write it (mode 0${(mode & 0o7777).toString(8)}); chmod o-w it`;
  let real = abs;
  try {
    real = realpathSync(abs);
  } catch {
    /* checked as given */
  }
  const me = process.geteuid?.();
  for (const start of new Set([abs, real])) {
    for (let entry = start, dir = path.dirname(start); ; entry = dir, dir = path.dirname(dir)) {
      let m: number;
      try {
        m = statSync(dir).mode;
      } catch {
        m = 0; /* a directory on the way that cannot be read: the file's reader says so */
      }
      if (m & 0o002 && !readOnlyMount(dir)) {
        if (!(m & 0o1000)) return `it is in ${dir}, a folder every user of this machine can write (mode 0${(m & 0o7777).toString(8)}, no sticky bit), so anyone could put another file in its place; move it, chmod o-w ${dir}, or mount it read-only`;
        // The sticky bit keeps others from replacing what is yours or root's there, not what they put there themselves.
        // What is on a read-only mount nobody changes (a file bind-mounted `:ro`), but a link there can be replaced.
        const owner = foreignOwner(entry, me);
        if (owner !== undefined) {
          const [what, whose, changes] = entry === start ? ['it', 'it', 'it'] : [entry, 'that folder', 'what is in it'];
          return `${what} is in ${dir}, a folder every user of this machine can write, and another user of this machine owns ${whose} (uid ${owner}), so they can change ${changes}; use a copy in a folder of your own`;
        }
      }
      if (path.dirname(dir) === dir) break;
    }
  }
  return undefined;
}

/**
 * The owner of `p` itself (a link's own, not its target's) when that is neither `me` nor root and could change it;
 * undefined when `p` is not there, is ours or root's, or is a file or folder on a read-only mount.
 */
function foreignOwner(p: string, me: number | undefined): number | undefined {
  let st;
  try {
    st = lstatSync(p);
  } catch {
    return undefined;
  }
  if (st.uid === 0 || st.uid === me) return undefined;
  return st.isSymbolicLink() || !readOnlyMount(p) ? st.uid : undefined;
}

/** The mode of `file` when every user of the machine can read it (the others' read bit), else undefined; never on Windows. */
export function othersCanRead(file: string): number | undefined {
  if (process.platform === 'win32') return undefined;
  try {
    const mode = statSync(file).mode & 0o7777;
    return mode & 0o004 ? mode : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether `p` is on a read-only mount, where nobody writes whatever its bits say: a Kubernetes ConfigMap volume shows
 * its folder as 0777, a file bind-mounted `:ro` into a container keeps its host mode.
 */
function readOnlyMount(p: string): boolean {
  try {
    accessSync(p, constants.W_OK);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EROFS';
  }
}

/**
 * Throws when another user could change `file` (see othersCanChange); `what` names its part in the config, `role`
 * what it is trusted with.
 */
export function refuseChangeableByOthers(file: string, what: string, role = 'decides what mcp-warden lets through', foldersOnly = false): void {
  const why = othersCanChange(file, foldersOnly);
  if (why) throw new ConfigError(`${file}: refused as ${what}, which ${role}: ${why}`, file);
}
