/**
 * What both ends of a WebSocket need: keep-alive (ping, and end a peer that has not answered by the next ping) and
 * a count of the bytes handed to the socket but not yet written (backpressure).
 */
import type WebSocket from 'ws';

/** Pings every `intervalMs`; a peer silent since the previous ping (no pong, no message) is handed to `onMissed`. */
export function keepAlive(ws: WebSocket, intervalMs: number, onMissed: () => void): () => void {
  if (intervalMs <= 0) return () => undefined;
  let alive = true;
  const seen = () => (alive = true);
  ws.on('pong', seen);
  ws.on('message', seen);
  const timer = setInterval(() => {
    if (!alive) return onMissed();
    alive = false;
    ws.ping();
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * Bytes queued on a socket. Above `highWater` the gauge is "pressured" and calls `onpressure`; once the queue is
 * below half of it again, `onrelief`.
 */
export class SendGauge {
  pending = 0;
  pressured = false;

  constructor(
    private readonly highWater: number,
    private readonly onpressure: () => void,
    private readonly onrelief: () => void,
  ) {}

  /** Sends `text`; false while the socket is pressured. */
  send(ws: WebSocket, text: string): boolean {
    const n = Buffer.byteLength(text);
    this.pending += n;
    ws.send(text, () => {
      this.pending -= n;
      if (this.pressured && this.pending < this.highWater / 2) {
        this.pressured = false;
        this.onrelief();
      }
    });
    if (!this.pressured && this.pending > this.highWater) {
      this.pressured = true;
      this.onpressure();
    }
    return !this.pressured;
  }
}
