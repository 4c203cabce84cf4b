/**
 * A raw JSON-RPC peer over a child's stdio, for tests that must send what no SDK would: broken JSON, duplicate
 * keys, huge or deep messages.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface RawMessage {
  jsonrpc?: string;
  id?: string | number | null;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { code: number; message: string; data?: unknown };
}

export class RawStdio {
  readonly proc: ChildProcess;
  readonly received: RawMessage[] = [];
  readonly unparsed: string[] = [];
  /** Every line received, as sent. */
  readonly lines: string[] = [];
  stderr = '';
  private buf = '';
  private waiters: { pred: (m: RawMessage) => boolean; resolve: (m: RawMessage) => void }[] = [];
  readonly exited: Promise<number | null>;

  constructor(command: string, args: string[], env: Record<string, string>) {
    this.proc = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    // Decoded across chunks: a read may end inside a multi-byte character.
    this.proc.stdout!.setEncoding('utf8');
    this.proc.stdout!.on('data', (d: string) => {
      this.buf += d;
      let nl;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        this.lines.push(line);
        let msg: RawMessage;
        try {
          msg = JSON.parse(line) as RawMessage;
        } catch {
          this.unparsed.push(line);
          continue;
        }
        this.received.push(msg);
        this.waiters = this.waiters.filter((w) => {
          if (!w.pred(msg)) return true;
          w.resolve(msg);
          return false;
        });
      }
    });
    this.proc.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.proc.stdin!.on('error', () => undefined);
    this.exited = new Promise((r) => this.proc.once('exit', (code) => r(code)));
  }

  write(text: string | Buffer): void {
    this.proc.stdin!.write(text);
  }

  send(msg: RawMessage): void {
    this.write(`${JSON.stringify({ jsonrpc: '2.0', ...msg })}\n`);
  }

  waitFor(pred: (m: RawMessage) => boolean, timeoutMs = 15_000): Promise<RawMessage> {
    const found = this.received.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no matching message within ${timeoutMs} ms; stderr:\n${this.stderr.slice(-2000)}`)), timeoutMs);
      this.waiters.push({ pred, resolve: (m) => (clearTimeout(t), resolve(m)) });
    });
  }

  reply(id: string | number | null, timeoutMs?: number): Promise<RawMessage> {
    return this.waitFor((m) => m.id === id && (m.result !== undefined || m.error !== undefined), timeoutMs);
  }

  async request(id: string | number, method: string, params: Record<string, unknown> = {}, timeoutMs?: number): Promise<RawMessage> {
    this.send({ id, method, params });
    return this.reply(id, timeoutMs);
  }

  async initialize(id: string | number = 'init'): Promise<RawMessage> {
    const r = await this.request(id, 'initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } });
    this.send({ method: 'notifications/initialized' });
    return r;
  }

  call(id: string | number, name: string, args: Record<string, unknown> = {}, timeoutMs?: number): Promise<RawMessage> {
    return this.request(id, 'tools/call', { name, arguments: args }, timeoutMs);
  }

  async close(): Promise<number | null> {
    this.proc.stdin!.end();
    return this.exitedWithin(10_000);
  }

  /** The exit code, waiting at most `ms`: a process still running then is killed, and its null code fails a check. */
  async exitedWithin(ms: number): Promise<number | null> {
    const t = setTimeout(() => this.proc.kill('SIGKILL'), ms);
    try {
      return await this.exited;
    } finally {
      clearTimeout(t);
    }
  }
}

/** The JSON-RPC messages of an HTTP response body: one JSON message, or the `data` of each event of an SSE stream. */
export function bodyMessages(contentType: string | null, body: string): RawMessage[] {
  if (contentType?.includes('text/event-stream')) {
    return body
      .split(/\n\n/)
      .map((ev) => ev.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n'))
      .filter(Boolean)
      .map((d) => JSON.parse(d) as RawMessage);
  }
  return body ? [JSON.parse(body) as RawMessage] : [];
}

export function text(m: RawMessage): string {
  return ((m.result?.['content'] as { text?: string }[] | undefined) ?? []).map((c) => c.text ?? '').join('');
}
