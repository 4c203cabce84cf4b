/**
 * The client side of a WebSocket connection to `serve` (`/<server>/ws`, subprotocol `mcp`): a session's downstream.
 *
 * Backpressure (SendGauge): above the high-water mark of bytes queued on the socket the connection is "pressured":
 * the owner pauses the upstream and stops reading the client (so a client that sends requests but never reads
 * answers cannot make the proxy buffer without bound); below half of it, both resume. A connection that stays
 * pressured for `stallMs` is closed with 1008.
 */
import type { Wire } from '../protocol/frame.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import http from 'node:http';
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import type { Downstream } from './types.js';
import { SendGauge } from './ws-common.js';

/** Close codes the proxy uses (1000–1015 are RFC 6455's; 4401 is ours). */
export const WsClose = {
  Normal: 1000,
  GoingAway: 1001,
  Unsupported: 1003,
  Policy: 1008,
  TooBig: 1009,
  UpstreamLost: 1011,
  /** The access token the connection was opened with has expired: reconnect with a fresh one. */
  TokenExpired: 4401,
} as const;

export const WS_HIGH_WATER = 1024 * 1024;

export class WsDownstream implements Downstream {
  readonly kind = 'websocket' as const;
  onpressure: (() => void) | undefined;
  onrelief: (() => void) | undefined;
  private ws: WebSocket | undefined;
  private stallTimer: NodeJS.Timeout | undefined;
  private readonly gauge = new SendGauge(
    WS_HIGH_WATER,
    () => {
      this.onpressure?.();
      this.stallTimer = setTimeout(() => {
        if (this.gauge.pressured) this.close(WsClose.Policy, 'the client is not reading its messages');
      }, this.stallMs);
      this.stallTimer.unref();
    },
    () => {
      if (this.stallTimer) clearTimeout(this.stallTimer);
      this.stallTimer = undefined;
      this.onrelief?.();
    },
  );

  /** Created with the session, before the upgrade completes; `attach` gives it the socket. */
  constructor(private readonly stallMs: number) {}

  attach(ws: WebSocket): void {
    this.ws = ws;
  }

  send(text: Wire): boolean {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    return this.gauge.send(this.ws, String(text));
  }

  close(code: number, reason: string): void {
    if (this.stallTimer) clearTimeout(this.stallTimer);
    const ws = this.ws;
    if (ws && (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING)) {
      ws.close(code, reason.slice(0, 120));
      // A peer that does not answer the close handshake (or does not read) is cut off.
      const t = setTimeout(() => ws.terminate(), 3000);
      t.unref();
      ws.once('close', () => clearTimeout(t));
    }
  }
}

/**
 * A response object for refusing an upgrade request with the same helpers (status, headers, JSON body) as any
 * other HTTP request; the socket is closed once it is written.
 */
export function upgradeResponse(req: IncomingMessage, socket: Socket): ServerResponse {
  const res = new http.ServerResponse(req);
  res.shouldKeepAlive = false;
  res.assignSocket(socket);
  res.on('finish', () => {
    res.detachSocket(socket);
    socket.end();
    setTimeout(() => socket.destroy(), 1000).unref();
  });
  return res;
}

/** The offered subprotocols of an upgrade request. */
export function offeredProtocols(req: IncomingMessage): string[] {
  const h = req.headers['sec-websocket-protocol'];
  if (typeof h !== 'string') return [];
  return h
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
}
