/**
 * Progress for long CLI work (lint of many targets, export or report over a large audit database), on stderr and
 * only when stderr is a terminal: pipes, files and CI logs get nothing, so output stays machine-readable.
 */
export interface Progress {
  /** Counts `n` more items done. */
  tick(n?: number): void;
  /** A new step, with its own count. */
  phase(label: string, total?: number): void;
  /** Clears the line. */
  done(): void;
}

const NOOP: Progress = { tick: () => undefined, phase: () => undefined, done: () => undefined };

export function progress(label: string, total?: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY || process.env['CI']) return NOOP;
  let count = 0;
  let current = label;
  let of = total;
  let last = 0;
  const render = (force = false) => {
    const now = Date.now();
    if (!force && now - last < 100) return;
    last = now;
    const n = of ? `${count}/${of} (${Math.floor((count / Math.max(1, of)) * 100)}%)` : count > 0 ? String(count) : '';
    stream.write(`\r\x1b[2K${current}… ${n}`);
  };
  render(true);
  return {
    tick(n = 1) {
      count += n;
      render(of !== undefined && count >= of);
    },
    phase(l, t) {
      current = l;
      of = t;
      count = 0;
      render(true);
    },
    done() {
      stream.write('\r\x1b[2K');
    },
  };
}
