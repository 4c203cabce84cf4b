/**
 * Collects the pieces of one message as they arrive (a line, an HTTP body, an SSE line), bounded in objects as well
 * as in bytes: a peer that trickles a byte per read must cost bytes, not one Buffer object per byte (~100 bytes of
 * heap each: a 16 MiB message would take well over a gigabyte).
 *
 * A large piece of a chunk that owns its memory (Node's pipes, sockets and files allocate one per read) is kept as
 * a view, so a long message is copied once, when it is taken. Anything else is copied — the caller may reuse a
 * shared buffer —, small pieces into a slab that is reused from message to message.
 */

/** Pieces at least this long of a chunk that owns its memory are kept as views. */
const VIEW_BYTES = 4096;
/** Pieces shorter than this are copied into a shared slab of this size. */
const SLAB_BYTES = 16 * 1024;

export class ByteCollector {
  private parts: Buffer[] = [];
  /** Bytes collected since the last take or clear. */
  size = 0;
  private slab: Buffer | undefined;
  private slabUsed = 0;
  private slabStart = 0;
  /** The part that ends at `slabUsed` and may grow in place; -1: the next small piece starts a new one. */
  private slabPart = -1;

  /** Adds `piece`, cut from `chunk` (whether the chunk owns its memory decides whether a large piece is kept as a view). */
  push(piece: Buffer, chunk: Buffer = piece): void {
    if (piece.length === 0) return;
    this.size += piece.length;
    if (piece.length >= VIEW_BYTES && chunk.byteOffset === 0 && chunk.buffer.byteLength === chunk.length) {
      this.parts.push(piece);
      this.slabPart = -1;
      return;
    }
    if (piece.length >= SLAB_BYTES) {
      this.parts.push(Buffer.from(piece));
      this.slabPart = -1;
      return;
    }
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

  /** How many pieces the bytes are held in (tests: a trickle must not make one per read). */
  get count(): number {
    return this.parts.length;
  }

  /**
   * Everything collected, in a buffer nothing else writes to (a copy, or the one view of an owned chunk, which is
   * never reused); the collector is empty after and its slab free again.
   */
  take(): Buffer {
    const only = this.parts.length === 1 ? this.parts[0]! : undefined;
    // One part outside the slab in use is a copy of its own or a view of an owned chunk: hand it over as it is.
    const whole = only && only.buffer !== this.slab?.buffer ? only : Buffer.concat(this.parts, this.size);
    this.clear();
    return whole;
  }

  /** The first `max` bytes collected (for a report), without taking them. */
  head(max: number): Buffer {
    return Buffer.concat(this.parts, Math.min(max, this.size));
  }

  /** Forgets everything collected. */
  clear(): void {
    this.parts = [];
    this.size = 0;
    this.slabUsed = 0;
    this.slabPart = -1;
  }
}
