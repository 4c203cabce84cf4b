/**
 * Typed errors. A file that caused an error is named with its line; messages never carry tokens or secrets.
 */
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
