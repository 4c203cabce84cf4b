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

describe('LineReader: how a line waiting for its newline is held', () => {
  /** Random cuts of `text` delivered as chunks the way `make` builds them; returns the lines read. */
  function deliver(text: string, cuts: number[], make: (piece: Buffer) => Buffer, after?: (chunk: Buffer) => void): string[] {
    const { r, got } = collect(1 << 22);
    const bytes = Buffer.from(text);
    let at = 0;
    for (const cut of [...cuts, bytes.length]) {
      const chunk = make(bytes.subarray(at, cut));
      r.push(chunk);
      after?.(chunk);
      at = cut;
    }
    return got.map((g) => g.text!);
  }

  it('joins lines from chunks of every size correctly, whether the chunk owns its memory or is a reused view', () => {
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
    for (const maxCut of [1, 7, 700, 5000, 20_000, 70_000]) {
      // Lines below and above the size whose bytes are kept; fewer of them when the reads are tiny.
      const lines = Array.from({ length: maxCut < 100 ? 6 : 40 }, (_, i) => JSON.stringify({ i, t: 'é'.repeat(rand(3) === 0 ? 20_000 + rand(30_000) : rand(300)) }));
      const text = `${lines.join('\n')}\n`;
      const size = Buffer.byteLength(text);
      const cuts: number[] = [];
      for (let at = rand(maxCut) + 1; at < size; at += rand(maxCut) + 1) cuts.push(at);
      // Chunks that own their memory (as Node's streams deliver them), kept as views when large.
      expect(deliver(text, cuts, (p) => Buffer.from(p))).toEqual(lines);
      // Views into one shared buffer that the caller overwrites after every push: must be copied.
      const shared = Buffer.alloc(size + 16);
      expect(
        deliver(
          text,
          cuts,
          (p) => {
            p.copy(shared, 8);
            return shared.subarray(8, 8 + p.length);
          },
          (chunk) => chunk.fill(0x78),
        ),
      ).toEqual(lines);
    }
  });

  it('a line trickled a byte per read is held in a few slabs, not one buffer per byte', () => {
    const { r, got } = collect(1 << 22);
    const line = JSON.stringify({ t: 'a'.repeat(200_000) });
    for (const b of Buffer.from(line)) r.push(Buffer.from([b]));
    // 16 KiB slabs: about 13 parts for 200 KB (one per byte before).
    expect(r.bufferedParts).toBeLessThan(20);
    r.push(Buffer.from('\n'));
    expect(got).toEqual([{ kind: 'line', text: line, bytes: line.length }]);
    expect(r.bufferedParts).toBe(0);
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
