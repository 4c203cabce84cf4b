/**
 * Server-Sent Events: a parser for what upstreams send and a writer for what `serve` sends.
 * The parser bounds the size of one event; a larger one is skipped and reported.
 */
import { ByteCollector } from './collect.js';

export interface SseEvent {
  event: string;
  data: string;
  id: string | undefined;
  retry: number | undefined;
}

export class SseParser {
  /** The bytes of the line being read (lines are decoded whole: a line break never sits inside a UTF-8 sequence). */
  private readonly pending = new ByteCollector();
  /** The last chunk ended with CR: an LF at the start of the next one completes that line break. */
  private afterCR = false;
  /** The line being read went over the limit: drop it up to its end. */
  private dropLine = false;
  private data: string[] = [];
  private dataBytes = 0;
  private event = '';
  private id: string | undefined;
  private retry: number | undefined;
  private skipping = false;
  lastEventId: string | undefined;

  constructor(
    private readonly maxEventBytes: number,
    private readonly onEvent: (ev: SseEvent) => void,
    private readonly onOversize: (bytes: number) => void,
  ) {}

  /**
   * Each byte is looked at once: the next LF and CR are searched natively and remembered (a long line arriving in
   * many chunks used to be scanned again from its start at every chunk), and a partial line is held as bytes.
   */
  push(chunk: Buffer): void {
    let start = 0;
    if (this.afterCR && chunk.length > 0) {
      this.afterCR = false;
      if (chunk[0] === 10) start = 1;
    }
    let lf = -2;
    let cr = -2;
    while (start < chunk.length) {
      if (lf !== -1 && lf < start) lf = chunk.indexOf(10, start);
      if (cr !== -1 && cr < start) cr = chunk.indexOf(13, start);
      const eol = lf < 0 ? cr : cr < 0 ? lf : Math.min(lf, cr);
      if (eol < 0) {
        this.hold(chunk, start, chunk.length);
        return;
      }
      if (this.pending.size === 0 && !this.dropLine) this.line(chunk.toString('utf8', start, eol));
      else {
        this.hold(chunk, start, eol);
        if (this.dropLine) this.dropLine = false;
        else this.line(this.pending.take().toString('utf8'));
      }
      if (chunk[eol] === 13) {
        if (eol + 1 === chunk.length) {
          this.afterCR = true;
          return;
        }
        start = chunk[eol + 1] === 10 ? eol + 2 : eol + 1;
      } else start = eol + 1;
    }
  }

  /** The stream ended: a line without its line break is not a line. */
  end(): void {
    this.pending.clear();
    this.dropLine = false;
  }

  private hold(chunk: Buffer, from: number, to: number): void {
    if (from >= to || this.dropLine) return;
    if (this.pending.size + (to - from) > this.maxEventBytes) {
      if (!this.skipping) this.onOversize(this.pending.size + (to - from));
      this.skipping = true;
      this.dropLine = true;
      this.pending.clear();
      return;
    }
    this.pending.push(chunk.subarray(from, to), chunk);
  }

  /** How many pieces the line being read is held in (tests). */
  get bufferedParts(): number {
    return this.pending.count;
  }

  private line(line: string): void {
    if (line === '') {
      this.dispatch();
      return;
    }
    if (this.skipping) return;
    if (line.charCodeAt(0) === 58) return; // comment (keep-alive)
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    switch (field) {
      case 'data':
        this.dataBytes += value.length + 1;
        if (this.dataBytes > this.maxEventBytes) {
          this.onOversize(this.dataBytes);
          this.skipping = true;
          this.data = [];
          return;
        }
        this.data.push(value);
        break;
      case 'event':
        this.event = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.id = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retry = Number(value);
        break;
      default:
        break;
    }
  }

  private dispatch(): void {
    const skipped = this.skipping;
    this.skipping = false;
    if (this.id !== undefined) this.lastEventId = this.id;
    const ev: SseEvent = { event: this.event || 'message', data: this.data.join('\n'), id: this.id, retry: this.retry };
    const hasData = this.data.length > 0;
    this.data = [];
    this.dataBytes = 0;
    this.event = '';
    this.id = undefined;
    this.retry = undefined;
    if (skipped) return;
    if (hasData || ev.retry !== undefined || ev.id !== undefined) this.onEvent(ev);
  }
}

/** One SSE event. Data lines never contain a raw newline (JSON text has none; anything else is split). */
export function sseEvent(data: string, opts: { event?: string; id?: string } = {}): string {
  let out = '';
  if (opts.event) out += `event: ${opts.event}\n`;
  if (opts.id) out += `id: ${opts.id}\n`;
  if (data.includes('\n') || data.includes('\r')) {
    for (const line of data.split(/\r\n|\r|\n/)) out += `data: ${line}\n`;
  } else out += `data: ${data}\n`;
  return `${out}\n`;
}
