/**
 * The host side of `wrap`: the host writes JSON-RPC lines to our stdin and reads our stdout.
 *
 * Node writes to a pipe on stdout synchronously on Linux, so a host that stops reading would freeze the whole
 * proxy (timers, the child's output). stdout is therefore opened as a non-blocking socket when it is a pipe or
 * socket, and backpressure is passed on: while the host is not reading, the upstream is paused.
 */
import type { Wire } from '../protocol/frame.js';
import { fstatSync } from 'node:fs';
import net from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { LineReader, writeLine, type LineSink } from './lines.js';
import type { Downstream } from './types.js';

export function openStdout(): Writable {
  try {
    const st = fstatSync(1);
    if (st.isFIFO() || st.isSocket()) return new net.Socket({ fd: 1, readable: false, writable: true });
  } catch {
    /* fall back */
  }
  return process.stdout;
}

export class StdioHost implements Downstream {
  readonly kind = 'stdio' as const;
  /** Called when the host stops reading (pause the upstream) and when it reads again. */
  onpressure: (() => void) | undefined;
  onrelief: (() => void) | undefined;
  private blocked = false;
  private closed = false;

  /**
   * `onEnd` is called once, with why the host is gone (for the log and the audit trail's `session_end`) and whether
   * answers can still reach it (stdin ended but stdout is open: a host that sent its last request and closed).
   */
  constructor(private readonly input: Readable, private readonly output: Writable, maxBytes: number, sink: LineSink, onEnd: (reason: string, canAnswer: boolean) => void) {
    const reader = new LineReader(maxBytes, sink);
    input.on('data', (chunk: Buffer) => reader.push(chunk));
    let ended = false;
    const end = (reason: string) => {
      if (ended) return;
      ended = true;
      onEnd(reason, !this.closed);
    };
    input.on('end', () => end('the host closed stdin'));
    input.on('close', () => end('the host closed stdin'));
    input.on('error', (e: NodeJS.ErrnoException) => end(`reading stdin failed (${e.code ?? 'error'})`));
    output.on('error', (e: NodeJS.ErrnoException) => {
      this.closed = true;
      end(`the host stopped reading stdout (${e.code ?? 'error'})`);
    });
    output.on('drain', () => {
      if (this.blocked) {
        this.blocked = false;
        this.onrelief?.();
      }
    });
  }

  send(text: Wire): boolean {
    if (this.closed) return false;
    const ok = writeLine(this.output, text);
    if (!ok && !this.blocked) {
      this.blocked = true;
      this.onpressure?.();
    }
    return ok;
  }

  pauseInput(): void {
    this.input.pause();
  }

  resumeInput(): void {
    this.input.resume();
  }

  /**
   * Stops reading the host for good (at shutdown). A host that keeps our stdin open while it sends SIGTERM, or
   * while the upstream is lost, would otherwise keep the process alive with nothing left to serve.
   */
  closeInput(): void {
    this.input.removeAllListeners('data');
    this.input.destroy();
  }

  /** Resolves once everything written has been handed to the OS. */
  flush(): Promise<void> {
    return new Promise((resolve) => {
      if (this.closed || this.output.writableLength === 0) return resolve();
      this.output.once('drain', () => resolve());
      setTimeout(resolve, 2000).unref();
    });
  }
}
