/**
 * The standard output of a one-shot command (`audit tail`, `audit export`, `lint`, …). A reader that stops early
 * (`mcp-warden audit tail | head -1`, quitting `less`) closes the pipe; like any Unix filter the command then stops
 * printing, quietly, and finishes what it was doing: no stack trace, no half-done side effect. `wrap` does not use
 * this: its stdout is the protocol, and its transport handles a closed pipe itself.
 */
import { writeFileSync } from 'node:fs';
import { UsageError } from '../errors.js';

let closed = false;
const waiters = new Set<() => void>();

export function guardStdout(): void {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (closed) return;
    closed = true;
    if (e.code !== 'EPIPE') process.stderr.write(`mcp-warden: cannot write to standard output (${e.code ?? e.message}); the rest is not printed\n`);
    for (const w of waiters) w();
  });
}

/** Calls `f` once the reader has gone (at once if it already has); returns a function that unregisters it. */
export function whenStdoutCloses(f: () => void): () => void {
  if (closed) {
    f();
    return () => undefined;
  }
  waiters.add(f);
  return () => waiters.delete(f);
}

/** Writes a file a command was asked to produce (`--out`); a path that cannot be written is a usage error. */
export function writeOutput(file: string, text: string): void {
  try {
    writeFileSync(file, text);
  } catch (e) {
    throw new UsageError(`${file}: cannot write it: ${fsReason(e)}`);
  }
}

/** "no such file or directory (ENOENT)" from a Node.js file-system error. */
export function fsReason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const text = /^[A-Z]+: ([^,]+)/.exec(err.message ?? '')?.[1];
  return err.code ? `${text ?? err.code} (${err.code})` : String(err.message ?? e);
}
