import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { exactNumbers, idText, inexactLiterals, KEEP_UTF8_BYTES, parseFrame, peekId, serialize, serializeWithId, wireLength, wireSha256, wireWithId, WireBytes } from '../../src/protocol/frame.js';
import { canonicalJson, jsonText } from '../../src/protocol/canonical.js';
import { approvalArguments } from '../../src/protocol/escape.js';
import { ErrorCode, MCP_METHODS } from '../../src/protocol/jsonrpc.js';

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

  it('refuses keys of one object that differ only in case, as a case-insensitive reader would merge them', () => {
    // Go's encoding/json takes the last of `name` and `Name`, and folds ſ to s and the Kelvin sign to k.
    const twins = [
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_file","Name":"delete_file","arguments":{}}}',
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"r","arguments":{"path":"/srv/a","Path":"/etc/passwd"}}}',
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"r","arguments":{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"URL":"x","url":"y"}}}',
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"r","arguments":{"params":1,"param\u017f":2}}}',
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"r","arguments":{"key":1,"\u212aey":2}}}',
      '{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"visible"}],"Tools":[{"name":"hidden"}]}}',
      '[{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":{"deep":{"Q":1,"q":2}}}}]',
    ];
    for (const t of twins) {
      const r = parseFrame(t, limits);
      expect(r.ok, t).toBe(false);
      if (!r.ok) expect(r.message, t).toMatch(/^Invalid Request: keys that differ only in case in one JSON object \(".+" and ".+"\)$/);
    }
    const fine = parseFrame('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"r","arguments":{"mimeType":"a","mimetype2":"b","nextCursor":"c","Ab":1,"Ba":2,"ID":1,"Id2":2}}}', limits);
    expect(fine.ok).toBe(true);
    // The next message is judged on its own.
    expect(parseFrame('{"jsonrpc":"2.0","id":2,"method":"ping"}', limits).ok).toBe(true);
  });

  it('refuses a method spelled like an MCP method without being it, and says which requests wait on an answer', () => {
    // Each would pass every stage untouched (they judge the exact method) to a server that folds names before it
    // dispatches: case, white space, invisible and control characters, full-width forms, extra slashes.
    const alike: [string, string][] = [
      ['TOOLS/CALL', 'tools/call'],
      ['Tools/Call', 'tools/call'],
      ['tools/call ', 'tools/call'],
      ['\ttools/call', 'tools/call'],
      ['tools/\u200bcall', 'tools/call'],
      ['tools/call\u0000', 'tools/call'],
      ['\uff54ools\uff0fcall', 'tools/call'],
      ['/tools/call', 'tools/call'],
      ['tools//call', 'tools/call'],
      ['Sampling/CreateMessage', 'sampling/createMessage'],
      ['sampling/createmessage', 'sampling/createMessage'],
      ['RESOURCES/READ', 'resources/read'],
      ['notifications/Tools/List_Changed', 'notifications/tools/list_changed'],
    ];
    for (const [method, real] of alike) {
      const r = parseFrame(JSON.stringify({ jsonrpc: '2.0', id: 7, method, params: {} }), limits);
      expect(r.ok, method).toBe(false);
      if (r.ok) continue;
      expect(r.code).toBe(ErrorCode.MethodNotFound);
      expect(r.message).toContain(`is not "${real}"`);
      expect(r.id).toBe(7);
      expect(r.request).toBe(true);
      // As a notification: refused too, and nobody waits on it.
      const n = parseFrame(JSON.stringify({ jsonrpc: '2.0', method }), limits);
      expect(n.ok, method).toBe(false);
      if (!n.ok) expect(n.request).toBeUndefined();
    }
    // The methods themselves, and names that are no MCP method however they are folded, pass as they are.
    for (const method of [...MCP_METHODS, 'tools/calls', 'x/custom', 'Custom/Method', 'tools.call', 'notifications/claude/channel']) {
      const r = parseFrame(JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: {} }), limits);
      expect(r.ok, method).toBe(true);
      if (r.ok) expect((r.frames[0]!.message as { method: string }).method).toBe(method);
    }
    // Other refusals of a request carry the flag as well; a response's do not.
    const extra = parseFrame('{"jsonrpc":"2.0","id":3,"method":"ping","extra":1}', limits);
    expect(!extra.ok && extra.request).toBe(true);
    const resp = parseFrame('{"jsonrpc":"2.0","id":3,"result":{},"extra":1}', limits);
    expect(!resp.ok && resp.request).toBeFalsy();
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

describe('a frame on its way out (wireWithId)', () => {
  const frameOf = (text: string) => {
    const r = parseFrame(text, limits, Buffer.byteLength(text), Buffer.from(text));
    if (!r.ok) throw new Error(r.message);
    return r.frames[0]!;
  };
  const big = 'x'.repeat(KEEP_UTF8_BYTES);
  const texts = [
    `{"jsonrpc":"2.0","id":1,"result":{"t":"${big}"}}`,
    `{"jsonrpc":"2.0","result":{"t":"${big}"},"id":"abc"}`,
    `{"result":{"t":"${big}"} , "id" : 12 ,"jsonrpc":"2.0"}`,
    `{"jsonrpc":"2.0","method":"notifications/message","params":{"t":"${big}"}}`,
  ];

  // Not ASCII before the id, inside a string id, and only after it: the id's byte offsets differ from its character offsets.
  const unicode = [
    `{"jsonrpc":"2.0","result":{"t":"é€😀${big}"},"id":"abc"}`,
    `{"id":"ü-1","jsonrpc":"2.0","result":{"t":"${big}"}}`,
    `{"jsonrpc":"2.0","id":1,"result":{"t":"é${big}"}}`,
  ];

  it('is the received bytes of a long frame, with the id spliced, equal to serializeWithId', () => {
    for (const text of [...texts, ...unicode]) {
      for (const id of ['7', '"down-1"', '"ñ"', undefined]) {
        const f = frameOf(text);
        const w = wireWithId(f, id);
        expect(w).toBeInstanceOf(WireBytes);
        const bytes = Buffer.concat((w as WireBytes).parts);
        expect(bytes.toString('utf8')).toBe(serializeWithId(f, id));
        expect(String(w)).toBe(serializeWithId(f, id));
        expect(wireLength(w)).toBe(Buffer.byteLength(serializeWithId(f, id)));
        // The parts are the frame's own bytes, not a copy (the point of it).
        expect((w as WireBytes).parts[0]!.buffer).toBe(f.utf8!.buffer);
      }
    }
  });

  it('is text for a short frame, and a long changed one is its new text encoded once', () => {
    const short = frameOf('{"jsonrpc":"2.0","id":1,"result":{}}');
    expect(wireWithId(short, '7')).toBe('{"jsonrpc":"2.0","id":7,"result":{}}');
    const small = frameOf('{"jsonrpc":"2.0","id":1,"result":{"t":"x"}}');
    (small.message as { result: { t: string } }).result.t = 'masked';
    small.dirty = true;
    expect(wireWithId(small, '7')).toBe('{"jsonrpc":"2.0","id":7,"result":{"t":"masked"}}');
    const changed = frameOf(unicode[0]!);
    (changed.message as { result: { t: string } }).result.t = `é ${big}`;
    changed.dirty = true;
    const w = wireWithId(changed, '7');
    expect(w).toBeInstanceOf(WireBytes);
    expect(Buffer.concat((w as WireBytes).parts).toString('utf8')).toBe(`{"jsonrpc":"2.0","id":7,"result":{"t":"é ${big}"}}`);
    expect(String(w)).toBe(serializeWithId(changed, '7'));
  });

  it('hashes what is sent: the same from its parts as from its text', () => {
    const sha = (t: string) => createHash('sha256').update(t).digest('hex');
    for (const text of [...texts, ...unicode]) {
      const f = frameOf(text);
      const kept = wireWithId(f, '"c-1"');
      expect(wireSha256(kept)).toBe(sha(serializeWithId(f, '"c-1"')));
      f.dirty = true;
      const encoded = wireWithId(f, '2');
      expect(wireSha256(encoded)).toBe(sha(serializeWithId(f, '2')));
    }
    expect(wireSha256('{"jsonrpc":"2.0","id":1,"result":{}}')).toBe(sha('{"jsonrpc":"2.0","id":1,"result":{}}'));
  });
});

describe('a changed message keeps the numbers its sender wrote', () => {
  const rewrite = (text: string, change: (m: Record<string, unknown>) => void, id = '9') => {
    const r = parseFrame(text, limits);
    if (!r.ok) throw new Error(r.message);
    const f = r.frames[0]!;
    change(f.message as unknown as Record<string, unknown>);
    f.dirty = true;
    return serializeWithId(f, id);
  };
  const note = (m: Record<string, unknown>) => ((m['result'] as Record<string, unknown>)['note'] = '[REDACTED:email]');

  it('writes integers past 2^53, long fractions and over-precise spellings as they came', () => {
    const text = '{"jsonrpc":"2.0","id":1,"result":{"note":"a@b.io","n":[12345678901234567891,-98765432109876543210,0.12345678901234567,1.0000000000000001e300,42,1.5,-0,3e2]}}';
    expect(rewrite(text, note)).toBe('{"jsonrpc":"2.0","id":9,"result":{"note":"[REDACTED:email]","n":[12345678901234567891,-98765432109876543210,0.12345678901234567,1.0000000000000001e300,42,1.5,0,300]}}');
  });

  it('finds them where object keys are reordered, and leaves digits inside strings alone', () => {
    // JavaScript lists integer-like keys first: the numbers come back in another order than they were written.
    const text = '{"jsonrpc":"2.0","id":1,"result":{"note":"x","b":12345678901234567891,"2":98765432109876543210,"s":"12345678901234567000"}}';
    const out = rewrite(text, note);
    expect(out).toBe('{"jsonrpc":"2.0","id":9,"result":{"2":98765432109876543210,"note":"[REDACTED:email]","b":12345678901234567891,"s":"12345678901234567000"}}');
  });

  it('leaves a value two literals spelled differently as JavaScript prints it', () => {
    // Both read as 12345678901234567000: which one a given number came from cannot be told.
    const text = '{"jsonrpc":"2.0","id":1,"result":{"note":"x","a":12345678901234567891,"b":12345678901234567892}}';
    expect(rewrite(text, note)).toBe('{"jsonrpc":"2.0","id":9,"result":{"note":"[REDACTED:email]","a":12345678901234567000,"b":12345678901234567000}}');
  });

  it('writes numbers beyond a double as they came, and never an infinite one as null', () => {
    // JavaScript reads 1e400 as Infinity (JSON.stringify: null) and 1e-400 as 0.
    const text = '{"jsonrpc":"2.0","id":1,"result":{"note":"x","a":1e400,"b":-1E+400,"c":[1e-400,1e400],"d":1e5,"e":true,"f":false,"g":1.5e-7}}';
    expect(rewrite(text, note)).toBe('{"jsonrpc":"2.0","id":9,"result":{"note":"[REDACTED:email]","a":1e400,"b":-1E+400,"c":[1e-400,1e400],"d":100000,"e":true,"f":false,"g":1.5e-7}}');
    // Two spellings of one infinite value: a number JSON.parse reads back as the same, not null.
    expect(rewrite('{"jsonrpc":"2.0","id":1,"result":{"note":"x","a":1e400,"b":2e400}}', note)).toBe('{"jsonrpc":"2.0","id":9,"result":{"note":"[REDACTED:email]","a":1e999,"b":1e999}}');
    // 0 written as 0 elsewhere: which zero was 1e-400 cannot be told.
    expect(rewrite('{"jsonrpc":"2.0","id":1,"result":{"note":"x","a":1e-400,"b":0}}', note)).toBe('{"jsonrpc":"2.0","id":9,"result":{"note":"[REDACTED:email]","a":0,"b":0}}');
  });

  it('leaves a value as JavaScript prints it when another literal writes it that way', () => {
    // 12345678901234567000 is exact; 12345678901234567891 reads as the same double. Before, both came out as …891.
    const text = '{"jsonrpc":"2.0","id":1,"result":{"note":"x","a":12345678901234567891,"b":12345678901234567000}}';
    expect(rewrite(text, note)).toBe('{"jsonrpc":"2.0","id":9,"result":{"note":"[REDACTED:email]","a":12345678901234567000,"b":12345678901234567000}}');
  });

  it('holds numbers beyond a double in canonical JSON and approval questions', () => {
    const r = parseFrame('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"n":-1e400,"m":1e400,"s":"1e400"}}}', limits);
    if (!r.ok) throw new Error(r.message);
    const f = r.frames[0]!;
    const args = (f.message as unknown as { params: { arguments: Record<string, unknown> } }).params.arguments;
    expect(canonicalJson(args)).toBe('{"m":1e999,"n":-1e999,"s":"1e400"}');
    expect(exactNumbers(f, canonicalJson(args))).toBe('{"m":1e400,"n":-1e400,"s":"1e400"}');
    expect(inexactLiterals(f)).toBe('-1e400 1e400');
    expect(approvalArguments(args, (json) => exactNumbers(f, json))).toBe('{\n "n": -1e400,\n "m": 1e400,\n "s": "1e400"\n}');
    expect(jsonText({ a: [Infinity, -Infinity, 1], b: null }, 1)).toBe('{\n "a": [\n  1e999,\n  -1e999,\n  1\n ],\n "b": null\n}');
    // A peer's string shaped like the stand-in for an infinite number stays a string: the stand-in holds a random part.
    expect(jsonText({ s: '\u0000mcp-warden:000000000000000000000000:+' })).toBe('{"s":"\\u0000mcp-warden:000000000000000000000000:+"}');
  });

  it('costs nothing to a message without a long number, and keeps the id the proxy writes', () => {
    const text = '{"jsonrpc":"2.0","id":12345678901234567891,"result":{"note":"x","v":1}}';
    const r = parseFrame('{"jsonrpc":"2.0","id":1,"result":{"note":"x","v":1234567890.12345}}', limits);
    expect(r.ok && r.frames[0]!.longNumber).toBeFalsy();
    expect(rewrite(text, note, '12345678901234567891')).toBe('{"jsonrpc":"2.0","id":12345678901234567891,"result":{"note":"[REDACTED:email]","v":1}}');
  });
});
