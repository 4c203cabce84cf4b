/**
 * The logging stage: one debug line per exchange (method, target, outcome, latency) in the operational log.
 * It records names and numbers, never arguments or results.
 */
import type { Logger } from './logger.js';
import type { Exchange, Stage } from '../pipeline/types.js';

/** `scrub` masks secrets in the target, which may be a caller's resource URI carrying a credential. */
export function loggingStage(log: Logger, scrub?: (text: string) => string): Stage {
  return {
    name: 'log',
    response(ex: Exchange) {
      if (!log.isLevelEnabled('debug')) return;
      log.debug(
        {
          session: ex.session.id,
          server: ex.session.server,
          dir: ex.direction,
          method: ex.method,
          target: ex.notes.target !== undefined && scrub ? scrub(ex.notes.target) : ex.notes.target,
          outcome: ex.outcome,
          by: ex.answeredBy,
          ms: ex.endedAt !== undefined ? Math.round((ex.endedAt - ex.startedAt) * 1000) / 1000 : undefined,
          in: ex.bytesIn,
          out: ex.bytesOut,
        },
        ex.kind === 'request' ? 'exchange' : 'notification',
      );
    },
  };
}
