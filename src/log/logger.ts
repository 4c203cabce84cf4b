/**
 * Operational logs (pino). Never stdout: in `wrap` stdout belongs to the protocol. JSON to stderr or a file;
 * a short human line per record when stderr is a terminal. Tokens and matched secrets never reach a log call —
 * callers pass ids, hashes and counts — and the `redact` paths below are a second fence for header objects.
 */
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';

export type { Logger };

export interface LogOptions {
  level?: string;
  file?: string;
  /** Force or suppress the terminal format; default: when stderr is a TTY and no file is set. */
  pretty?: boolean;
}

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

function prettyStream(): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        try {
          const rec = JSON.parse(line) as Record<string, unknown>;
          const { level, time, msg, pid: _pid, hostname: _h, ...rest } = rec;
          const t = new Date(Number(time)).toISOString().slice(11, 23);
          const extra = Object.entries(rest)
            .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
            .join(' ');
          process.stderr.write(`${t} ${LEVELS[Number(level)] ?? level} ${String(msg ?? '')}${extra ? ` ${extra}` : ''}\n`);
        } catch {
          process.stderr.write(`${line}\n`);
        }
      }
      cb();
    },
  });
}

export function createLogger(opts: LogOptions = {}): Logger {
  const level = opts.level ?? process.env['MCP_WARDEN_LOG_LEVEL'] ?? 'info';
  const base = {
    level,
    base: { pid: process.pid },
    redact: { paths: ['*.authorization', '*.Authorization', '*.headers.authorization', '*.token', '*.access_token', '*.refresh_token'], censor: '[REDACTED]' },
  };
  if (opts.file) return pino(base, pino.destination({ dest: opts.file, mkdir: true, sync: false }));
  const pretty = opts.pretty ?? process.stderr.isTTY === true;
  if (pretty) return pino(base, prettyStream());
  return pino(base, pino.destination({ fd: 2, sync: false }));
}

/** A logger that drops everything, for library use and tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
