/**
 * Typed errors. A file that caused an error is named with its line; messages never carry tokens or secrets.
 */
import { mkdirSync } from 'node:fs';
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
  try {
    mkdirSync(path.dirname(path.resolve(file)), { recursive: true, mode });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
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
