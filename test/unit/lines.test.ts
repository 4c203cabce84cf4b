import { describe, expect, it } from 'vitest';
import { KEEP_UTF8_BYTES } from '../../src/protocol/frame.js';
import { LineReader } from '../../src/transports/lines.js';
import { SseParser, sseEvent, type SseEvent } from '../../src/transports/sse.js';
import { ByteCollector } from '../../src/transports/collect.js';

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

  it('reads the same events however the stream is cut: CRLF, CR and LF line breaks, multi-byte characters', () => {
    let seed = 11;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
    const breaks = ['\n', '\r\n', '\r'];
    // A line break after a line; a CR followed by an LF would be one CRLF break, so none starts with LF after a CR.
    const br = () => {
      const b = text.endsWith('\r') ? breaks[1 + rand(2)]! : breaks[rand(3)]!;
      text += b;
    };
    let text = '';
    const want: SseEvent[] = [];
    for (let i = 0; i < 60; i++) {
      const data = Array.from({ length: 1 + rand(3) }, (_, k) => `{"i":${i},"k":${k},"t":"${'é✓'.repeat(rand(4) === 0 ? 3000 : rand(20))}"}`);
      if (rand(5) === 0) {
        text += ': keep-alive';
        br();
      }
      text += `id: e${i}`;
      br();
      for (const d of data) {
        text += `data: ${d}`;
        br();
      }
      br();
      want.push({ event: 'message', data: data.join('\n'), id: `e${i}`, retry: undefined });
    }
    const bytes = Buffer.from(text);
    for (const maxCut of [1, 2, 5, 100, 4000, 70_000]) {
      const got: SseEvent[] = [];
      const p = new SseParser(1 << 20, (e) => got.push(e), () => got.push({ event: 'oversize', data: '', id: undefined, retry: undefined }));
      for (let at = 0; at < bytes.length; ) {
        const n = 1 + rand(maxCut);
        // Each chunk a buffer of its own, as Node's streams deliver them.
        p.push(Buffer.from(bytes.subarray(at, at + n)));
        at += n;
      }
      expect(got, `cuts up to ${maxCut}`).toEqual(want);
    }
  });

  it('drops an event whose line goes over the limit while it arrives, and keeps the next', () => {
    const evs: string[] = [];
    const p = new SseParser(1000, (e) => evs.push(e.data), () => evs.push('oversize'));
    const long = Buffer.from(`data: ${'z'.repeat(5000)}\ndata: tail\n\ndata: ok\n\n`);
    for (let at = 0; at < long.length; at += 100) p.push(Buffer.from(long.subarray(at, at + 100)));
    expect(evs).toEqual(['oversize', 'ok']);
  });

  it('a line trickled a byte per read is held in a few slabs', () => {
    const evs: string[] = [];
    const p = new SseParser(1 << 22, (e) => evs.push(e.data), () => evs.push('oversize'));
    const data = 'x'.repeat(100_000);
    for (const b of Buffer.from(`data: ${data}`)) p.push(Buffer.from([b]));
    expect(p.bufferedParts).toBeLessThan(10);
    p.push(Buffer.from('\r'));
    p.push(Buffer.from('\n\n'));
    expect(evs).toEqual([data]);
  });

  it('writes events whose data cannot break the framing', () => {
    expect(sseEvent('a\nb')).toBe('data: a\ndata: b\n\n');
    expect(sseEvent('{}', { event: 'endpoint' })).toBe('event: endpoint\ndata: {}\n\n');
  });
});

describe('ByteCollector', () => {
  it('takes what was pushed, whatever the piece sizes and whether chunks own their memory', () => {
    const c = new ByteCollector();
    const src = Buffer.from(Array.from({ length: 300_000 }, (_, i) => i % 251));
    for (const sizes of [[1], [3, 5000, 7], [20_000], [16_383, 16_385, 1]]) {
      let at = 0;
      let k = 0;
      const shared = Buffer.alloc(40_000);
      while (at < src.length) {
        const n = sizes[k++ % sizes.length]!;
        const piece = src.subarray(at, at + n);
        if (k % 2) c.push(Buffer.from(piece));
        else {
          // A view into a buffer the caller overwrites right after (a chunk that owns its memory is never reused).
          piece.copy(shared, 10);
          const view = shared.subarray(10, 10 + piece.length);
          c.push(view);
          shared.fill(0);
        }
        at += n;
      }
      expect(c.size).toBe(src.length);
      expect(c.take().equals(src)).toBe(true);
      expect(c.size).toBe(0);
      expect(c.count).toBe(0);
    }
  });

  it('a taken buffer is not written to by what is pushed after it (the slab is reused only once taken)', () => {
    const c = new ByteCollector();
    c.push(Buffer.from('first'));
    const first = c.take();
    c.push(Buffer.from('SECOND'));
    c.push(Buffer.from('!'));
    expect(first.toString()).toBe('first');
    expect(c.take().toString()).toBe('SECOND!');
    c.push(Buffer.from('a'.repeat(5000)));
    const big = c.take();
    c.push(Buffer.from('b'.repeat(5000)));
    expect(big.toString()).toBe('a'.repeat(5000));
  });

  it('a million one-byte pieces become a few dozen parts', () => {
    const c = new ByteCollector();
    for (let i = 0; i < 1_000_000; i++) c.push(Buffer.from([97]));
    expect(c.count).toBeLessThan(70);
    expect(c.take().length).toBe(1_000_000);
  });
});
