import { describe, expect, it } from 'vitest';
import { KEEP_UTF8_BYTES } from '../../src/protocol/frame.js';
import { LineReader } from '../../src/transports/lines.js';
import { SseParser, sseEvent } from '../../src/transports/sse.js';

function collect(max: number) {
  const got: { kind: string; text?: string; bytes: number }[] = [];
  const r = new LineReader(max, {
    line: (text, bytes) => got.push({ kind: 'line', text, bytes }),
    invalid: (bytes) => got.push({ kind: 'invalid', bytes }),
    oversize: (prefix, bytes) => got.push({ kind: 'oversize', text: prefix.slice(0, 10), bytes }),
  });
  return { r, got };
}

describe('LineReader', () => {
  it('splits lines across chunks and strips CR', () => {
    const { r, got } = collect(100);
    r.push(Buffer.from('{"a":1}\n{"b"'));
    r.push(Buffer.from(':2}\r\n\n   \n{"c":3}'));
    r.push(Buffer.from('\n'));
    expect(got.map((g) => g.text)).toEqual(['{"a":1}', '{"b":2}', '{"c":3}']);
  });

  it('skips an oversized line up to its newline and carries on', () => {
    const { r, got } = collect(20);
    r.push(Buffer.from('{"id":1,"x":"' + 'a'.repeat(30)));
    r.push(Buffer.from('b'.repeat(50) + '"}\n{"ok":1}\n'));
    expect(got[0]!.kind).toBe('oversize');
    expect(got[0]!.bytes).toBe(13 + 30 + 52);
    expect(got[1]).toEqual({ kind: 'line', text: '{"ok":1}', bytes: 8 });
  });

  it('hands over the bytes of a long line in a buffer of its own, and none for a short one', () => {
    const kept: (Buffer | undefined)[] = [];
    const texts: string[] = [];
    const r = new LineReader(1 << 20, {
      line: (text, _bytes, utf8) => {
        texts.push(text);
        kept.push(utf8);
      },
      invalid: () => undefined,
      oversize: () => undefined,
    });
    const long = `{"t":"${'é'.repeat(KEEP_UTF8_BYTES)}"}`;
    // One chunk holding a short line and a whole long line (a view would share the chunk), then a long line
    // split over two chunks.
    const chunk = Buffer.from(`{"a":1}\n${long}\n`);
    r.push(chunk);
    const split = Buffer.from(`${long}\n`);
    r.push(split.subarray(0, 1000));
    r.push(split.subarray(1000));
    chunk.fill(0x20);
    split.fill(0x20);
    expect(texts).toEqual(['{"a":1}', long, long]);
    expect(kept[0]).toBeUndefined();
    for (const b of kept.slice(1)) {
      expect(b).toBeInstanceOf(Buffer);
      expect(b!.toString('utf8')).toBe(long);
      expect(b!.equals(Buffer.from(long))).toBe(true);
    }
  });

  it('reports invalid UTF-8', () => {
    const { r, got } = collect(100);
    r.push(Buffer.from([0x7b, 0xff, 0xfe, 0x7d, 0x0a]));
    expect(got[0]!.kind).toBe('invalid');
  });

  it('does not split a multi-byte character across chunks', () => {
    const { r, got } = collect(100);
    const bytes = Buffer.from('{"t":"é😀"}\n');
    r.push(bytes.subarray(0, 7));
    r.push(bytes.subarray(7));
    expect(got[0]!.text).toBe('{"t":"é😀"}');
  });
});

describe('SseParser', () => {
  it('parses events, comments, ids and retry across chunks', () => {
    const evs: unknown[] = [];
    const p = new SseParser(1000, (e) => evs.push(e), () => evs.push('oversize'));
    p.push(Buffer.from(': keep-alive\n\nid: 7\nretry: 500\nevent: message\ndata: {"a"'));
    p.push(Buffer.from(':1}\r\n\r\ndata: x\ndata: y\n\n'));
    expect(evs).toEqual([
      { event: 'message', data: '{"a":1}', id: '7', retry: 500 },
      { event: 'message', data: 'x\ny', id: undefined, retry: undefined },
    ]);
    expect(p.lastEventId).toBe('7');
  });

  it('skips an event over the limit and keeps going', () => {
    const evs: unknown[] = [];
    const p = new SseParser(10, (e) => evs.push((e as { data: string }).data), (n) => evs.push(`oversize`));
    p.push(Buffer.from(`data: ${'z'.repeat(50)}\n\ndata: ok\n\n`));
    expect(evs).toEqual(['oversize', 'ok']);
  });

  it('writes events whose data cannot break the framing', () => {
    expect(sseEvent('a\nb')).toBe('data: a\ndata: b\n\n');
    expect(sseEvent('{}', { event: 'endpoint' })).toBe('event: endpoint\ndata: {}\n\n');
  });
});
