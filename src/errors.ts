/**
 * Typed errors. A file that caused an error is named with its line; messages never carry tokens or secrets.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';

export class WardenError extends Error {
  readonly code: string = 'WARDEN_ERROR';
  /** Process exit code for the CLI. */
  get exitCode(): number {
    return 2;
  }
}

export class ConfigError extends WardenError {
  override readonly code: string = 'CONFIG_INVALID';
  constructor(message: string, readonly file?: string, readonly line?: number) {
    super(message);
  }
}

export class UsageError extends WardenError {
  override readonly code: string = 'USAGE';
}

export class PolicyError extends ConfigError {
  override readonly code: string = 'POLICY_INVALID';
}

export class StartError extends WardenError {
  override readonly code: string = 'START_FAILED';
  override get exitCode(): number {
    return 1;
  }
}

/**
 * Creates the folder a file goes in. A file standing where a folder should be is left for the open that follows,
 * which names it properly ("not a directory"; mkdir says "file already exists").
 */
export function makeParent(file: string, mode = 0o700): void {
  makeDirs(path.dirname(path.resolve(file)), mode);
}

/**
 * `mkdir -p`, one level at a time from the deepest folder that exists. Node's own recursive mkdir never returns for a
 * path under /proc (mkdir answers ENOENT there, and it retries for ever): a log or audit path set there hung the
 * start. Here the first level that cannot be made throws, and the caller names it.
 */
export function makeDirs(dir: string, mode = 0o700): void {
  const missing: string[] = [];
  for (let d = path.resolve(dir); !existsSync(d); ) {
    missing.push(d);
    const up = path.dirname(d);
    if (up === d) break;
    d = up;
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d, { mode });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

/** A file-system error in brief: its code (`ENOENT`), else its message. */
export function errnoText(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? (e as Error).message;
}

/** A file-system error in words: "no such file or directory (ENOENT)". */
export function fsReason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const text = /^[A-Z]+: ([^,]+)/.exec(err.message ?? '')?.[1];
  return err.code ? `${text ?? err.code} (${err.code})` : String(err.message ?? e);
}

/**
 * What tells one version of a file from another: its inode, size, modification and change times ('' when it cannot be
 * read: gone, or never there). The change time moves with every write, rename into place or chmod, and nobody can
 * set it back: a file replaced with its old modification time kept (`cp -p`, `rsync -t`) is still a change.
 */
export function fileStamp(file: string): string {
  try {
    const st = statSync(file);
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
  } catch {
    return '';
  }
}
