/**
 * Newline-delimited JSON framing (the MCP stdio transport): splits a byte stream into lines with a bound on how
 * much is buffered. A line over the bound is not kept: its first bytes are handed on (so the refusal can name the
 * request id) and the rest is skipped up to the next newline.
 */
import { isUtf8 } from 'node:buffer';
import type { Writable } from 'node:stream';
import { KEEP_UTF8_BYTES, type Wire } from '../protocol/frame.js';

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
/** Pieces at least this long of a chunk that owns its memory are kept as views. */
const VIEW_BYTES = 4096;
/** Pieces shorter than this are copied into a shared slab of this size. */
const SLAB_BYTES = 16 * 1024;

export class LineReader {
  private parts: Buffer[] = [];
  private size = 0;
  private discarding = false;
  private discarded = 0;
  private prefix = '';
  /** Small pieces are copied here; `slabPart` is the part that ends at `slabUsed` (-1: start a new one). */
  private slab: Buffer | undefined;
  private slabUsed = 0;
  private slabStart = 0;
  private slabPart = -1;

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
      } else if (this.size === 0) {
        this.emit(chunk.subarray(start, nl), false);
      } else {
        this.buffer(chunk, start, nl);
        if (this.discarding) {
          this.discarding = false;
          this.sink.oversize(this.prefix, this.discarded);
          this.discarded = 0;
          this.prefix = '';
        } else {
          const whole = Buffer.concat(this.parts, this.size);
          this.reset();
          this.emit(whole, true);
        }
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
    if (this.size + piece.length > this.maxBytes) {
      const head = Buffer.concat([...this.parts, piece]);
      this.prefix = head.subarray(0, PREFIX_BYTES).toString('utf8');
      this.discarded = this.size + piece.length;
      this.reset();
      this.discarding = true;
      return;
    }
    this.size += piece.length;
    // A large piece of a chunk that owns its memory (Node's pipes, sockets and files allocate one per read) is kept
    // as a view: copying it here and again when the line is joined made two copies of every long line. Anything
    // else is copied (the caller may reuse a shared buffer), small pieces into a slab, so a peer trickling a byte
    // per read costs bytes, not one Buffer object per byte (~100 bytes of heap each: 1.6 GB for a 16 MiB line).
    if (piece.length >= VIEW_BYTES && chunk.byteOffset === 0 && chunk.buffer.byteLength === chunk.length) {
      this.parts.push(piece);
      this.slabPart = -1;
    } else if (piece.length >= SLAB_BYTES) {
      this.parts.push(Buffer.from(piece));
      this.slabPart = -1;
    } else {
      if (!this.slab || this.slabUsed + piece.length > this.slab.length) {
        // A full slab stays with the parts that hold it.
        this.slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
        this.slabUsed = 0;
        this.slabPart = -1;
      }
      if (this.slabPart < 0) {
        this.slabPart = this.parts.length;
        this.slabStart = this.slabUsed;
        this.parts.push(piece);
      }
      piece.copy(this.slab, this.slabUsed);
      this.slabUsed += piece.length;
      this.parts[this.slabPart] = this.slab.subarray(this.slabStart, this.slabUsed);
    }
  }

  /** The parts are gone (joined into a copy, or dropped): the slab is free again. */
  private reset(): void {
    this.parts = [];
    this.size = 0;
    this.slabUsed = 0;
    this.slabPart = -1;
  }

  /** How many pieces the line being read is held in (tests: a trickle must not make one per read). */
  get bufferedParts(): number {
    return this.parts.length;
  }

  /** `owned`: `buf` is the reader's own copy (else a view into the stream's chunk). */
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
 * pays nothing; 16 calls in flight cost one write instead of sixteen.
 */
export function writeLine(stream: Writable, text: Wire): boolean {
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
