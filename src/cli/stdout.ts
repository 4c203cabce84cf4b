/**
 * The standard output of a one-shot command (`audit tail`, `audit export`, `lint`, …). A reader that stops early
 * (`mcp-warden audit tail | head -1`, quitting `less`) closes the pipe; like any Unix filter the command then stops
 * printing, quietly, and finishes what it was doing: no stack trace, no half-done side effect. `wrap` does not use
 * this: its stdout is the protocol, and its transport handles a closed pipe itself.
 */
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
