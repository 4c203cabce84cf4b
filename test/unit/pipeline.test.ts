/**
 * The stage list's runner: a stage whose request hook throws is met as a rejected step, which the session turns into
 * an error answer, never as an exception thrown to the code that read the message (it ended the process).
 */
import { describe, expect, it } from 'vitest';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import type { Exchange, Stage } from '../../src/pipeline/types.js';

describe('Pipeline.request', () => {
  it('turns a stage that throws into a rejected step, and runs no stage after it', async () => {
    const ran: string[] = [];
    const later: Stage = { name: 'later', request: () => void ran.push('later') };
    const throwing: Stage = {
      name: 'throws',
      request: () => {
        ran.push('throws');
        throw new Error('the pin file cannot be read');
      },
    };
    const ex = {} as Exchange;
    let step: ReturnType<Pipeline['request']> | undefined;
    expect(() => (step = new Pipeline([throwing, later]).request(ex))).not.toThrow();
    expect(step).toBeInstanceOf(Promise);
    await expect(step).rejects.toThrow('the pin file cannot be read');
    expect(ran).toEqual(['throws']);
    // Control: stages that answer synchronously still give a synchronous step.
    const answering: Stage = { name: 'answers', request: () => ({ answer: { result: { ok: true } } }) };
    expect(new Pipeline([later, answering]).request(ex)).toEqual({ kind: 'answer', index: 1, answer: { result: { ok: true } }, outcome: undefined });
    expect(ex.answeredBy).toBe('answers');
    expect(new Pipeline([later]).request(ex)).toEqual({ kind: 'pass' });
  });
});
