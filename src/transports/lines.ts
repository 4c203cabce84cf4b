/**
 * Newline-delimited JSON framing (the MCP stdio transport): splits a byte stream into lines with a bound on how
 * much is buffered. A line over the bound is not kept: its first bytes are handed on (so the refusal can name the
 * request id) and the rest is skipped up to the next newline.
 */
import { isUtf8 } from 'node:buffer';
import type { Writable } from 'node:stream';
import { KEEP_UTF8_BYTES, type Wire } from '../protocol/frame.js';
import { stayAwake } from './busy.js';
import { ByteCollector } from './collect.js';

export interface LineSink {
  /**
   * `utf8`: for a line of KEEP_UTF8_BYTES or more, its bytes (valid UTF-8; `text` was decoded from them), in a
   * buffer the reader no longer uses, so the frame can keep them.
   */
  line(text: string, bytes: number, utf8?: Buffer): void;
  /** A line that was not valid UTF-8. */
  invalid(bytes: number): void;
  /** A line longer than the limit; `prefix` holds its first bytes. */
  oversize(prefix: string, bytes: number): void;
}

const PREFIX_BYTES = 64 * 1024;

export class LineReader {
  private readonly pending = new ByteCollector();
  private discarding = false;
  private discarded = 0;
  private prefix = '';

  constructor(private readonly maxBytes: number, private readonly sink: LineSink) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl < 0) {
        this.buffer(chunk, start, chunk.length);
        return;
      }
      if (this.discarding) {
        const bytes = this.discarded + (nl - start);
        this.discarding = false;
        this.discarded = 0;
        this.sink.oversize(this.prefix, bytes);
        this.prefix = '';
      } else if (this.pending.size === 0) {
        this.emit(chunk.subarray(start, nl), false);
      } else {
        this.buffer(chunk, start, nl);
        if (this.discarding) {
          this.discarding = false;
          this.sink.oversize(this.prefix, this.discarded);
          this.discarded = 0;
          this.prefix = '';
        } else this.emit(this.pending.take(), true);
      }
      start = nl + 1;
    }
  }

  private buffer(chunk: Buffer, from: number, to: number): void {
    if (from >= to) return;
    if (this.discarding) {
      this.discarded += to - from;
      return;
    }
    const piece = chunk.subarray(from, to);
    const total = this.pending.size + piece.length;
    if (total > this.maxBytes) {
      // Only the first bytes are kept, for the refusal to name the request id.
      this.pending.push(piece.subarray(0, PREFIX_BYTES), chunk);
      this.prefix = this.pending.head(PREFIX_BYTES).toString('utf8');
      this.discarded = total;
      this.pending.clear();
      this.discarding = true;
      return;
    }
    this.pending.push(piece, chunk);
  }

  /** How many pieces the line being read is held in (tests: a trickle must not make one per read). */
  get bufferedParts(): number {
    return this.pending.count;
  }

  /** `owned`: nothing else writes to `buf` (taken from the collector; else a view into the caller's chunk). */
  private emit(buf: Buffer, owned: boolean): void {
    let end = buf.length;
    if (end > 0 && buf[end - 1] === 13) end--;
    let i = 0;
    while (i < end && (buf[i] === 32 || buf[i] === 9 || buf[i] === 13)) i++;
    if (i === end) return;
    if (end > this.maxBytes) {
      this.sink.oversize(buf.subarray(0, PREFIX_BYTES).toString('utf8'), end);
      return;
    }
    const slice = buf.subarray(0, end);
    if (!isUtf8(slice)) {
      this.sink.invalid(end);
      return;
    }
    this.sink.line(slice.toString('utf8'), end, end < KEEP_UTF8_BYTES ? undefined : owned ? slice : Buffer.from(slice));
  }
}

function uncork(stream: Writable): void {
  stream.uncork();
}

/**
 * Writes one line, coalescing every line written in the same turn of the event loop into one system call: the
 * stream is corked at the first write and uncorked once the current callbacks and their promise continuations
 * have run (`process.nextTick` queued from a microtask runs after the microtask queue drains). Sequential traffic
 * pays nothing; 16 calls in flight cost one write instead of sixteen. Each line also opens the busy-polling window
 * (busy.ts), in which the answer to it is read without waiting to be woken.
 */
export function writeLine(stream: Writable, text: Wire): boolean {
  stayAwake();
  if (stream.writableCorked === 0) {
    stream.cork();
    process.nextTick(uncork, stream);
  }
  if (typeof text === 'string') return stream.write(`${text}\n`);
  // Received bytes go out as they are: corked, the parts and the newline leave in one writev.
  for (const part of text.parts) if (part.length > 0) stream.write(part);
  return stream.write(NEWLINE);
}

const NEWLINE = Buffer.from('\n');
