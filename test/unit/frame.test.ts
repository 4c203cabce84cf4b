import { describe, expect, it } from 'vitest';
import { idText, KEEP_UTF8_BYTES, parseFrame, peekId, serializeWithId } from '../../src/protocol/frame.js';
import { ErrorCode } from '../../src/protocol/jsonrpc.js';

const limits = { maxDepth: 64 };

describe('parseFrame', () => {
  it('parses a request and finds its id in the text', () => {
    const text = '{"jsonrpc":"2.0", "id" : 42,"method":"tools/list","params":{}}';
    const r = parseFrame(text, limits);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const f = r.frames[0]!;
    expect(f.kind).toBe('request');
    expect(idText(f)).toBe('42');
    expect(serializeWithId(f, '7')).toBe('{"jsonrpc":"2.0", "id" : 7,"method":"tools/list","params":{}}');
  });

  it('keeps the received bytes of a long single message only', () => {
    const long = `{"jsonrpc":"2.0","id":1,"result":{"t":"${'x'.repeat(KEEP_UTF8_BYTES)}"}}`;
    const short = '{"jsonrpc":"2.0","id":1,"result":{}}';
    const batch = `[${long},${long}]`;
    const frame = (text: string) => {
      const r = parseFrame(text, limits, Buffer.byteLength(text), Buffer.from(text));
      if (!r.ok) throw new Error(r.message);
      return r.frames;
    };
    expect(frame(long)[0]!.utf8?.toString()).toBe(long);
    expect(frame(short)[0]!.utf8).toBeUndefined();
    expect(frame(batch).map((f) => f.utf8)).toEqual([undefined, undefined]);
    expect((parseFrame(long, limits) as { frames: { utf8: unknown }[] }).frames[0]!.utf8).toBeUndefined();
  });

  it('keeps a string id with escapes byte for byte', () => {
    const text = '{"jsonrpc":"2.0","id":"a\\"b\\\\","method":"ping"}';
    const r = parseFrame(text, limits);
    expect(r.ok && idText(r.frames[0]!)).toBe('"a\\"b\\\\"');
  });

  it('keeps a large integer id exactly', () => {
    const r = parseFrame('{"jsonrpc":"2.0","id":123456789012345678901234,"result":{}}', limits);
    expect(r.ok && idText(r.frames[0]!)).toBe('123456789012345678901234');
  });

  it('does not mistake an "id" key nested deeper or inside a string for the message id', () => {
    const text = '{"jsonrpc":"2.0","method":"x","params":{"id":5,"s":"\\"id\\":9"},"id":1}';
    const r = parseFrame(text, limits);
    expect(r.ok && idText(r.frames[0]!)).toBe('1');
  });

  it('refuses duplicate keys at any depth', () => {
    for (const text of [
      '{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}',
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","name":"b"}}',
      '{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":[{"k":1,"k":1}]}}',
      '{"jsonrpc":"2.0","id":1,"method":"x","params":{"__proto__":{},"__proto__":{}}}',
    ]) {
      const r = parseFrame(text, limits);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.code).toBe(ErrorCode.InvalidRequest);
    }
  });

  it('accepts the same key in different objects and a key named __proto__ once', () => {
    const r = parseFrame('{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":{"k":1},"b":{"k":2},"__proto__":{"polluted":true}}}', limits);
    expect(r.ok).toBe(true);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('refuses nesting deeper than the limit, naming the id when it can', () => {
    const deep = `{"jsonrpc":"2.0","id":3,"method":"x","params":{"a":${'['.repeat(1000)}${']'.repeat(1000)}}}`;
    const r = parseFrame(deep, limits);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.code).toBe(ErrorCode.InvalidRequest);
      expect(r.id).toBe(3);
    }
  });

  it('answers malformed JSON with a parse error', () => {
    const r = parseFrame('{"jsonrpc":"2.0",', limits);
    expect(!r.ok && r.code).toBe(ErrorCode.ParseError);
  });

  it('checks the envelope', () => {
    const bad = [
      '[]',
      '"x"',
      '{"jsonrpc":"1.0","id":1,"method":"x"}',
      '{"jsonrpc":"2.0","id":null,"method":"x"}',
      '{"jsonrpc":"2.0","id":1,"method":""}',
      '{"jsonrpc":"2.0","id":1,"method":"x","params":[1]}',
      '{"jsonrpc":"2.0","id":1,"method":"x","extra":1}',
      '{"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"m"}}',
      '{"jsonrpc":"2.0","id":1,"error":{"code":1.5,"message":"m"}}',
      '{"jsonrpc":"2.0","id":{},"method":"x"}',
    ];
    for (const b of bad) expect(parseFrame(b, limits).ok, b).toBe(false);
  });

  it('splits a batch into frames', () => {
    const r = parseFrame('[{"jsonrpc":"2.0","id":1,"method":"a"},{"jsonrpc":"2.0","method":"b"}]', limits);
    expect(r.ok && r.batch && r.frames.map((f) => f.kind)).toEqual(['request', 'notification']);
  });

  it('re-serialises a changed frame with the new id first', () => {
    const r = parseFrame('{"id":"x","jsonrpc":"2.0","result":{"a":1}}', limits);
    if (!r.ok) throw new Error('parse');
    const f = r.frames[0]!;
    (f.message as { result: Record<string, unknown> }).result['a'] = 2;
    f.dirty = true;
    expect(serializeWithId(f, '9')).toBe('{"jsonrpc":"2.0","id":9,"result":{"a":2}}');
  });
});

describe('peekId', () => {
  it('finds the id in the prefix of a truncated message', () => {
    expect(peekId('{"jsonrpc":"2.0","id":17,"method":"tools/call","params":{"arguments":{"x":"aaaa')).toBe(17);
    expect(peekId('{"jsonrpc":"2.0","method":"tools/call","params":{"x":"aaa')).toBeNull();
  });
});
