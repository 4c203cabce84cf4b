/**
 * The standard output of a one-shot command (`audit tail`, `audit export`, `lint`, …). A reader that stops early
 * (`mcp-warden audit tail | head -1`, quitting `less`) closes the pipe; like any Unix filter the command then stops
 * printing, quietly, and finishes what it was doing: no stack trace, no half-done side effect. `wrap` does not use
 * this: its stdout is the protocol, and its transport handles a closed pipe itself.
 */
import { closeSync, createWriteStream, openSync, statSync, unlinkSync, writeFileSync, type WriteStream } from 'node:fs';
import { fsReason, UsageError } from '../errors.js';

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

/** Opens a file a command was asked to produce (`--out`); a path that cannot be opened is a usage error. */
function openOutput(file: string): number {
  try {
    return openSync(file, 'w');
  } catch (e) {
    throw new UsageError(`${file}: cannot write it: ${fsReason(e)}`);
  }
}

/**
 * The error for an output cut short after it was opened (a full disk). Half an export or report looks like a whole
 * one to whoever reads it later: a regular file left incomplete is removed, and the message says so.
 */
function cutShort(file: string, err: unknown): UsageError {
  let removed = false;
  try {
    if (statSync(file).isFile()) {
      unlinkSync(file);
      removed = true;
    }
  } catch {
    /* gone already, or not ours to remove */
  }
  return new UsageError(`${file}: cannot write it: ${fsReason(err)}${removed ? '; the incomplete file was removed' : ''}`);
}

/** Writes a file a command was asked to produce (`--out`); a path that cannot be written is a usage error. */
export function writeOutput(file: string, text: string): void {
  const fd = openOutput(file);
  try {
    writeFileSync(fd, text);
  } catch (e) {
    closeSync(fd);
    throw cutShort(file, e);
  }
  closeSync(fd);
}

/**
 * Writes `chunks` to standard output, or to `file`, waiting whenever the reader is behind: an export of millions of
 * events holds one chunk in memory, not the whole text. A reader that went away (stdout) ends it quietly.
 */
export async function writeAll(chunks: Iterable<string>, file?: string): Promise<void> {
  const out: NodeJS.WritableStream = file ? createWriteStream('', { fd: openOutput(file) }) : process.stdout;
  let failed: Error | undefined;
  let wake: (() => void) | undefined;
  const onError = (e: Error) => {
    failed ??= e;
    wake?.();
  };
  out.on('error', onError);
  const unwatch = file ? () => undefined : whenStdoutCloses(() => onError(new Error('EPIPE')));
  try {
    for (const chunk of chunks) {
      if (failed) break;
      if (!out.write(chunk)) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          out.once('drain', resolve);
        });
        wake = undefined;
      }
    }
    // A write error can surface only at the end (a full disk): end's callback gets it.
    if (file && !failed) await new Promise<void>((resolve) => out.end((err?: Error | null) => (err ? onError(err) : undefined, resolve())));
  } finally {
    unwatch();
    // A file stream keeps its listener: an error it emits after this (on its way to closing) must not crash.
    if (!file) out.removeListener('error', onError);
  }
  if (failed && file) {
    (out as WriteStream).destroy();
    throw cutShort(file, failed);
  }
}

/** Lines joined into chunks of about 64 KiB. */
export function* chunked(lines: Iterable<string>): Generator<string> {
  let buf = '';
  for (const line of lines) {
    buf += `${line}\n`;
    if (buf.length >= 65_536) {
      yield buf;
      buf = '';
    }
  }
  if (buf) yield buf;
}
