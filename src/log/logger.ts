/**
 * Operational logs (pino). Never stdout: in `wrap` stdout belongs to the protocol. JSON to stderr or a file;
 * a short human line per record when stderr is a terminal. Tokens and matched secrets never reach a log call —
 * callers pass ids, hashes and counts — and the `redact` paths below are a second fence for header objects.
 */
import { openSync } from 'node:fs';
import { Writable } from 'node:stream';
import pino, { type DestinationStream, type Logger } from 'pino';
import { ConfigError, fsReason, makeParent } from '../errors.js';

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
  if (opts.file) return pino(base, fileDestination(opts.file));
  const pretty = opts.pretty ?? process.stderr.isTTY === true;
  if (pretty) return pino(base, prettyStream());
  return pino(base, pino.destination({ fd: 2, sync: false }));
}

/** Records held while the log file cannot be written (a full disk); past this, records are dropped. */
const MAX_PENDING_LOG_BYTES = 8 * 1024 * 1024;

/**
 * The log file, opened before the proxy starts: one that cannot be opened stops the start with its name and why
 * (it was opened later, and the failure crashed the process with a stack trace). A write that fails later is said
 * once on stderr, never thrown: losing log lines must not take the proxy down (the audit trail is the record).
 */
function fileDestination(file: string): DestinationStream {
  let fd: number;
  try {
    makeParent(file);
    fd = openSync(file, 'a', 0o600);
  } catch (e) {
    throw new ConfigError(`${file}: cannot open the log file (log.file): ${fsReason(e)}`, file);
  }
  const dest = pino.destination({ fd, sync: false, maxLength: MAX_PENDING_LOG_BYTES });
  let told = false;
  dest.on('error', (e: Error) => {
    if (told) return;
    told = true;
    process.stderr.write(`mcp-warden: writing the log file ${file} failed (${fsReason(e)}); log records are held, then dropped, until it can be written\n`);
  });
  return dest;
}

/** A logger that drops everything, for library use and tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
