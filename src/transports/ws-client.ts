/**
 * An upstream reached over WebSocket (subprotocol `mcp`): one JSON-RPC message per text frame, both ways.
 *
 * Upstream credentials (a static header, client credentials, token exchange, a person's login) travel as headers
 * of the upgrade request; a 401 on the upgrade gets one fresh credential and one more try. The caller's token is
 * never among them. A binary frame, an oversized message or a dropped socket ends the connection, and the session
 * fails every request still in flight.
 */
import WebSocket from 'ws';
import type { IncomingMessage } from 'node:http';
import type { Logger } from '../log/logger.js';
import { redactUrl } from '../config/shown.js';
import type { Upstream, UpstreamCloseInfo, UpstreamSendOptions } from './types.js';
import { keepAlive, SendGauge } from './ws-common.js';

export interface WsUpstreamOptions {
  url: string;
  headers: Record<string, string>;
  maxMessageBytes: number;
  log: Logger;
  server: string;
  credentials?: () => Promise<Record<string, string>> | Record<string, string>;
  unauthorized?: (challenge: string | undefined) => Promise<boolean>;
  /** Keep-alive: a ping this often; no pong by the next one ends the connection. 0 = off. */
  pingIntervalMs?: number;
  handshakeTimeoutMs?: number;
}

/** Bytes queued towards the server above which the session is told to slow down. */
const HIGH_WATER = 1024 * 1024;

export class WsUpstream implements Upstream {
  readonly kind = 'websocket' as const;
  readonly label: string;
  onmessage?: Upstream['onmessage'];
  onbadmessage?: Upstream['onbadmessage'];
  onclose?: Upstream['onclose'];
  ondrain?: () => void;
  private ws: WebSocket | undefined;
  private closed = false;
  private readonly gauge = new SendGauge(HIGH_WATER, () => undefined, () => this.ondrain?.());
  private stopKeepAlive: () => void = () => undefined;

  constructor(private readonly opts: WsUpstreamOptions) {
    this.label = redactUrl(opts.url);
  }

  async start(): Promise<void> {
    this.ws = await this.connect(false);
    const ws = this.ws;
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        this.onbadmessage?.('binary', '', data.length);
        ws.close(1003, 'binary frames are not MCP messages');
        return;
      }
      // ws checks that a text frame is valid UTF-8 (and closes the connection otherwise).
      this.onmessage?.(data.toString('utf8'), data.length, undefined, data);
    });
    ws.on('error', (err: Error & { code?: string }) => {
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.onbadmessage?.('oversize', '', this.opts.maxMessageBytes + 1);
      else if (err.code === 'WS_ERR_INVALID_UTF8') this.onbadmessage?.('invalid-utf8', '', 0);
      this.opts.log.warn({ server: this.opts.server, err: err.message }, 'upstream WebSocket error');
    });
    ws.on('close', (code: number, reason: Buffer) => this.ended(`closed its WebSocket (${code}${reason.length ? ` ${reason.toString('utf8').slice(0, 120)}` : ''})`));
    this.stopKeepAlive = keepAlive(ws, this.opts.pingIntervalMs ?? 30_000, () => {
      this.opts.log.warn({ server: this.opts.server }, 'upstream WebSocket missed its pong; ending the connection');
      ws.terminate();
    });
  }

  private async connect(retried: boolean): Promise<WebSocket> {
    const headers: Record<string, string> = { ...this.opts.headers };
    if (this.opts.credentials) Object.assign(headers, await this.opts.credentials());
    const ws = new WebSocket(this.opts.url, 'mcp', {
      headers,
      maxPayload: this.opts.maxMessageBytes,
      perMessageDeflate: false,
      handshakeTimeout: this.opts.handshakeTimeoutMs ?? 15_000,
      followRedirects: false,
    });
    const outcome = await new Promise<{ ws?: WebSocket; status?: number; challenge?: string; error?: Error }>((resolve) => {
      ws.once('open', () => resolve({ ws }));
      ws.once('unexpected-response', (_req, res: IncomingMessage) => {
        const challenge = res.headers['www-authenticate'];
        res.resume();
        ws.terminate();
        resolve({ status: res.statusCode, challenge: typeof challenge === 'string' ? challenge : undefined });
      });
      ws.once('error', (error: Error) => resolve({ error }));
    });
    if (outcome.ws) {
      if (outcome.ws.protocol !== 'mcp') {
        outcome.ws.terminate();
        throw new Error(`the server did not accept the mcp subprotocol (it answered ${JSON.stringify(outcome.ws.protocol)})`);
      }
      return outcome.ws;
    }
    if (outcome.status === 401 && !retried && this.opts.unauthorized && (await this.opts.unauthorized(outcome.challenge))) return this.connect(true);
    if (outcome.status !== undefined) throw new Error(`the WebSocket upgrade was answered with HTTP ${outcome.status}`);
    throw new Error(`could not open the WebSocket: ${outcome.error?.message ?? 'unknown error'}`);
  }

  send(text: string, _o: UpstreamSendOptions): boolean {
    const ws = this.ws;
    if (this.closed || !ws || ws.readyState !== WebSocket.OPEN) return true;
    return this.gauge.send(ws, text);
  }

  pause(): void {
    this.ws?.pause();
  }

  resume(): void {
    this.ws?.resume();
  }

  private ended(reason: string): void {
    this.stopKeepAlive();
    const unexpected = !this.closed;
    this.closed = true;
    const info: UpstreamCloseInfo = { reason, unexpected };
    this.onclose?.(info);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopKeepAlive();
    const ws = this.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        ws.terminate();
        resolve();
      }, 2000);
      t.unref();
      ws.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      ws.close(1000, 'session ended');
    });
  }
}
