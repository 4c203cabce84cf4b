/**
 * Server-Sent Events: a parser for what upstreams send and a writer for what `serve` sends.
 * The parser bounds the size of one event; a larger one is skipped and reported.
 */
import { StringDecoder } from 'node:string_decoder';

export interface SseEvent {
  event: string;
  data: string;
  id: string | undefined;
  retry: number | undefined;
}

export class SseParser {
  private decoder = new StringDecoder('utf8');
  private buf = '';
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

  push(chunk: Buffer): void {
    this.buf += this.decoder.write(chunk);
    this.drain();
  }

  end(): void {
    this.buf += this.decoder.end();
    this.drain();
  }

  private drain(): void {
    let start = 0;
    const s = this.buf;
    for (;;) {
      let nl = -1;
      for (let i = start; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (c === 10 || c === 13) {
          nl = i;
          break;
        }
      }
      if (nl < 0) break;
      // A CR at the very end may be the first half of CRLF: wait for the next chunk.
      if (s.charCodeAt(nl) === 13 && nl === s.length - 1) break;
      const line = s.slice(start, nl);
      start = s.charCodeAt(nl) === 13 && s.charCodeAt(nl + 1) === 10 ? nl + 2 : nl + 1;
      this.line(line);
    }
    this.buf = start === 0 ? s : s.slice(start);
    if (this.buf.length > this.maxEventBytes && !this.skipping) {
      this.onOversize(this.buf.length);
      this.skipping = true;
      this.buf = '';
    } else if (this.skipping && this.buf.length > this.maxEventBytes) this.buf = '';
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
