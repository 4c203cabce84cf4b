/**
 * A lean Streamable HTTP load generator: raw `node:http` requests on kept-alive connections, no SDK. It opens one
 * MCP session (initialize, notifications/initialized), then sends `tools/call` of a small echo:
 *
 * - saturation: `concurrency` calls in flight until `calls` are answered (calls/s, p50/p99);
 * - fixed offered rate: calls started on a schedule (open loop, so a slow relay cannot slow the offer down),
 *   each call timed from its send, for `seconds`.
 *
 * Every answer is checked (status 200, the request's id, a result) so a relay that fails fast cannot look fast.
 * Answers may come as JSON or as an SSE stream; both are read to their end.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { pct } from './common.mjs';

const PROTOCOL = '2025-06-18';

export class HttpLoad {
  constructor(url, { connections = 16 } = {}) {
    this.url = new URL(url);
    this.agent = new http.Agent({ keepAlive: true, maxSockets: connections });
    this.session = undefined;
    this.nextId = 1;
  }

  post(body) {
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'content-length': Buffer.byteLength(body) };
    if (this.session) {
      headers['mcp-session-id'] = this.session;
      headers['mcp-protocol-version'] = PROTOCOL;
    }
    return new Promise((resolve, reject) => {
      const req = http.request({ host: this.url.hostname, port: this.url.port, path: this.url.pathname, method: 'POST', agent: this.agent, headers }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  /** The JSON-RPC message in an answer: the body itself, or the SSE event that carries a response. */
  static message(r) {
    const type = String(r.headers['content-type'] ?? '');
    if (type.startsWith('application/json')) return JSON.parse(r.text);
    for (const block of r.text.split(/\r?\n\r?\n/)) {
      const data = block
        .split(/\r?\n/)
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).replace(/^ /, ''))
        .join('\n');
      if (!data) continue;
      const m = JSON.parse(data);
      if ('result' in m || 'error' in m) return m;
    }
    throw new Error(`no response in the answer (${r.status}): ${r.text.slice(0, 200)}`);
  }

  async open() {
    const init = await this.post(JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: 'load-http', version: '1' } } }));
    if (init.status !== 200) throw new Error(`initialize answered ${init.status}: ${init.text.slice(0, 200)}`);
    HttpLoad.message(init);
    this.session = init.headers['mcp-session-id'];
    const note = await this.post('{"jsonrpc":"2.0","method":"notifications/initialized"}');
    if (note.status !== 202 && note.status !== 200) throw new Error(`notifications/initialized answered ${note.status}`);
  }

  async call(text) {
    const id = this.nextId++;
    const r = await this.post(`{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"echo","arguments":{"text":${JSON.stringify(text)}}}}`);
    if (r.status !== 200) throw new Error(`tools/call answered ${r.status}: ${r.text.slice(0, 200)}`);
    const m = HttpLoad.message(r);
    if (m.id !== id || !m.result) throw new Error(`unexpected answer to call ${id}: ${JSON.stringify(m).slice(0, 200)}`);
  }

  /** `calls` calls with `concurrency` in flight. */
  async saturate(calls, concurrency) {
    const lat = [];
    let started = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (started < calls) {
          started++;
          const s = performance.now();
          await this.call('c');
          lat.push(performance.now() - s);
        }
      }),
    );
    const secs = (performance.now() - t0) / 1000;
    lat.sort((a, b) => a - b);
    return { rate: calls / secs, p50: pct(lat, 50), p99: pct(lat, 99) };
  }

  /** Open loop: a call every 1/rate s for `seconds`, each timed from its send. */
  async offered(rate, seconds) {
    const total = Math.round(rate * seconds);
    const lat = [];
    const pending = [];
    const t0 = performance.now();
    for (let i = 0; i < total; i++) {
      const due = t0 + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      // Calls start on schedule whether or not earlier ones were answered; each is timed from its send (the
      // generator's own timer jitter is not the relay's latency).
      const from = performance.now();
      pending.push(this.call('r').then(() => lat.push(performance.now() - from)));
    }
    await Promise.all(pending);
    lat.sort((a, b) => a - b);
    return { rate, p50: pct(lat, 50), p99: pct(lat, 99) };
  }

  close() {
    this.agent.destroy();
  }
}

/** Saturation with 16 in flight and latency at a fixed offered rate, after a warm-up. */
export async function httpLoad(url, { warm = 500, calls = 10_000, concurrency = 16, rate = 300, seconds = 5 } = {}) {
  const load = new HttpLoad(url, { connections: concurrency });
  try {
    await load.open();
    for (let i = 0; i < warm; i++) await load.call('warm');
    const sat = await load.saturate(calls, concurrency);
    const fixed = await load.offered(rate, seconds);
    return { rate: sat.rate, satP50: sat.p50, satP99: sat.p99, fixedRate: rate, fixedP50: fixed.p50, fixedP99: fixed.p99 };
  } finally {
    load.close();
  }
}
