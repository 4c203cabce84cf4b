/**
 * Finding and ending a child's whole process tree.
 *
 * A process group is not enough: a descendant that calls `setsid` leaves it, and one whose parent died is
 * re-parented to init. So on Linux the tree is found two ways and the union is signalled:
 *  - the parent-pid graph under the child, read from /proc;
 *  - every process whose environment carries the child's random tag (`MCP_WARDEN_PROCESS_TREE`), which survives
 *    `setsid`, double forks and re-parenting. A hostile server can clear its own environment; SECURITY.md says so.
 * On other POSIX systems only the group and the ppid walk (via `ps`) apply; on Windows, `taskkill /T`.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export const TREE_TAG_VAR = 'MCP_WARDEN_PROCESS_TREE';

interface ProcInfo {
  pid: number;
  ppid: number;
}

function listProcs(): ProcInfo[] {
  if (process.platform === 'linux') {
    const out: ProcInfo[] = [];
    let names: string[];
    try {
      names = readdirSync('/proc');
    } catch {
      return out;
    }
    for (const name of names) {
      const c = name.charCodeAt(0);
      if (c < 48 || c > 57) continue;
      try {
        const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
        const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        out.push({ pid: Number(name), ppid: Number(rest[1]) });
      } catch {
        /* exited meanwhile */
      }
    }
    return out;
  }
  if (process.platform === 'win32') return [];
  try {
    const text = execFileSync('ps', ['-A', '-o', 'pid=,ppid='], { encoding: 'utf8' });
    return text
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((p) => p.length === 2)
      .map(([a, b]) => ({ pid: Number(a), ppid: Number(b) }));
  } catch {
    return [];
  }
}

/** All descendants of `root` by the parent-pid graph (not including root). */
export function descendants(root: number): Set<number> {
  const procs = listProcs();
  const children = new Map<number, number[]>();
  for (const p of procs) {
    const list = children.get(p.ppid);
    if (list) list.push(p.pid);
    else children.set(p.ppid, [p.pid]);
  }
  const found = new Set<number>();
  const stack = [root];
  while (stack.length) {
    const pid = stack.pop()!;
    for (const c of children.get(pid) ?? []) {
      if (!found.has(c)) {
        found.add(c);
        stack.push(c);
      }
    }
  }
  return found;
}

/** Processes whose environment carries `TREE_TAG_VAR=tag` (Linux; readable only for our own user). */
export function taggedProcesses(tag: string): Set<number> {
  const found = new Set<number>();
  if (process.platform !== 'linux') return found;
  const needle = Buffer.from(`${TREE_TAG_VAR}=${tag}\0`);
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return found;
  }
  for (const name of names) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    try {
      const env = readFileSync(`/proc/${name}/environ`);
      if (env.indexOf(needle) >= 0) found.add(pid);
    } catch {
      /* not ours, or gone */
    }
  }
  return found;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Every pid that belongs to the tree of `root`: the ppid walk, the tag, and root itself if alive. */
export function treeMembers(root: number | undefined, tag: string): Set<number> {
  const all = taggedProcesses(tag);
  if (root !== undefined && root > 0) {
    if (isAlive(root)) all.add(root);
    for (const p of descendants(root)) all.add(p);
  }
  return all;
}

/** Sends `signal` to the child's process group and to every member of its tree. */
export function signalTree(root: number | undefined, tag: string, signal: NodeJS.Signals): number {
  if (process.platform === 'win32') {
    if (root !== undefined && root > 0) {
      try {
        execFileSync('taskkill', ['/pid', String(root), '/T', '/F'], { stdio: 'ignore', windowsHide: true });
      } catch {
        /* already gone */
      }
    }
    return 0;
  }
  const members = treeMembers(root, tag);
  if (root !== undefined && root > 0) {
    try {
      process.kill(-root, signal);
    } catch {
      /* group gone */
    }
  }
  for (const pid of members) {
    try {
      process.kill(pid, signal);
    } catch {
      /* gone */
    }
  }
  return members.size;
}
