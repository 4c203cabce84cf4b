/**
 * Tool arguments against the tool's inputSchema: the validator is found again for the same schema object and for
 * an equal schema in a new object (a tool list fetched again), and every verdict stays the same on repeat calls.
 */
import { describe, expect, it } from 'vitest';
import { checkArgs } from '../../src/policy/input-schema.js';

const schema = () => ({ type: 'object', properties: { path: { type: 'string', pattern: '^/srv/' } }, required: ['path'], additionalProperties: false });

describe('checkArgs', () => {
  it('gives the same verdicts on repeat calls with one schema object', () => {
    const s = schema();
    for (let i = 0; i < 3; i++) {
      expect(checkArgs(s, { path: '/srv/a' })).toEqual({ valid: true });
      expect(checkArgs(s, { path: '/etc/passwd' })).toMatchObject({ valid: false, problem: expect.stringContaining('/path') });
      expect(checkArgs(s, {})).toMatchObject({ valid: false });
      expect(checkArgs(s, { path: '/srv/a', extra: 1 })).toMatchObject({ valid: false });
    }
  });

  it('an equal schema in a new object and a changed schema are each checked as written', () => {
    expect(checkArgs(schema(), { path: '/etc/x' })).toMatchObject({ valid: false });
    const looser = { ...schema(), properties: { path: { type: 'string' } } };
    expect(checkArgs(looser, { path: '/etc/x' })).toEqual({ valid: true });
    expect(checkArgs(schema(), { path: '/etc/x' })).toMatchObject({ valid: false });
  });

  it('refuses to decide for a schema too large to check or one that cannot be compiled, every time', () => {
    const big = { type: 'object', description: 'x'.repeat(300 * 1024) };
    const broken = { type: 'object', properties: { a: { type: 'no-such-type' } } };
    for (let i = 0; i < 2; i++) {
      expect(checkArgs(big, {})).toEqual({ valid: false, problem: 'the inputSchema is too large to check' });
      expect(checkArgs(broken, { a: 1 })).toEqual({ valid: false, problem: 'the tool’s inputSchema cannot be checked safely' });
    }
  });

  it("writes nothing of the server's schema to the console (a format name with line breaks would forge log lines)", () => {
    const seen: string[] = [];
    const saved = { warn: console.warn, log: console.log, error: console.error };
    console.warn = console.log = console.error = (...a: unknown[]) => void seen.push(a.join(' '));
    try {
      const forged = 'x\n{"level":50,"msg":"forged"}\n';
      expect(checkArgs({ type: 'object', properties: { x: { type: 'string', format: forged } } }, { x: 'w' })).toEqual({ valid: true });
      checkArgs({ type: 'object', properties: { x: { type: 'string', format: 'made-up' } }, unknownKeyword: forged }, { x: 'w' });
    } finally {
      Object.assign(console, saved);
    }
    expect(seen).toEqual([]);
  });

  it('has nothing to check without an object schema', () => {
    expect(checkArgs(undefined, { anything: 1 })).toEqual({ valid: true });
  });
});
