/**
 * Runs the stage list. Stays synchronous while every hook returns synchronously (the common case, and the cheap
 * one); switches to promises only from the first hook that returns one.
 */
import type { Exchange, PeerAnswer, Stage, StageResult, Outcome } from './types.js';

export type RequestStep =
  | { kind: 'pass' }
  | { kind: 'answer'; index: number; answer: PeerAnswer; outcome: Outcome | undefined }
  | { kind: 'drop'; index: number };

const PASS: RequestStep = { kind: 'pass' };

function isThenable<T>(v: unknown): v is PromiseLike<T> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

function toStep(r: StageResult, index: number): RequestStep | undefined {
  if (!r) return undefined;
  if ('drop' in r) return { kind: 'drop', index };
  return { kind: 'answer', index, answer: r.answer, outcome: r.outcome };
}

export class Pipeline {
  readonly stages: readonly Stage[];
  /** The stages with a `forwarded` hook (most have none: nothing to loop over per request). */
  private readonly onForward: readonly Stage[];

  constructor(stages: readonly Stage[]) {
    this.stages = stages;
    this.onForward = stages.filter((s) => s.forwarded);
  }

  /** A client's request went to the server. */
  forwarded(ex: Exchange): void {
    for (const s of this.onForward) s.forwarded!(ex);
  }

  /**
   * A stage that throws gives a rejected promise, as one that rejects does, so the caller refuses the request (the
   * response side does the same): thrown out of here, it ended the process (a message read from a socket or a pipe
   * has no caller to catch it).
   */
  request(ex: Exchange): RequestStep | Promise<RequestStep> {
    const stages = this.stages;
    try {
      for (let i = 0; i < stages.length; i++) {
        const hook = stages[i]!.request;
        if (!hook) continue;
        const r = hook.call(stages[i], ex);
        if (isThenable<StageResult>(r)) return this.requestAsync(ex, i, r);
        const step = toStep(r, i);
        if (step) {
          if (step.kind === 'answer') ex.answeredBy = stages[i]!.name;
          return step;
        }
      }
    } catch (err) {
      return Promise.reject(err);
    }
    return PASS;
  }

  private async requestAsync(ex: Exchange, at: number, pending: PromiseLike<StageResult>): Promise<RequestStep> {
    const stages = this.stages;
    let step = toStep(await pending, at);
    if (step) {
      if (step.kind === 'answer') ex.answeredBy = stages[at]!.name;
      return step;
    }
    for (let i = at + 1; i < stages.length; i++) {
      const hook = stages[i]!.request;
      if (!hook) continue;
      step = toStep(await hook.call(stages[i], ex), i);
      if (step) {
        if (step.kind === 'answer') ex.answeredBy = stages[i]!.name;
        return step;
      }
    }
    return PASS;
  }

  /** Response hooks in reverse order, starting below `from` (exclusive); `from` = stages.length runs them all. */
  response(ex: Exchange, from: number = this.stages.length): void | Promise<void> {
    const stages = this.stages;
    for (let i = from - 1; i >= 0; i--) {
      const hook = stages[i]!.response;
      if (!hook) continue;
      const r = hook.call(stages[i], ex);
      if (isThenable<void>(r)) return this.responseAsync(ex, i, r);
    }
  }

  private async responseAsync(ex: Exchange, at: number, pending: PromiseLike<void>): Promise<void> {
    await pending;
    const stages = this.stages;
    for (let i = at - 1; i >= 0; i--) {
      const hook = stages[i]!.response;
      if (hook) await hook.call(stages[i], ex);
    }
  }

  sessionEnded(session: Exchange['session']): void {
    for (const s of this.stages) s.sessionEnded?.(session);
  }

  async close(): Promise<void> {
    for (const s of this.stages) await s.close?.();
  }
}
