#!/usr/bin/env node
/**
 * The benchmark's MCP server: hand-written JSON-RPC, no SDK, so its own cost is small and constant.
 *   node bench/upstream.mjs stdio
 *   PORT=n node bench/upstream.mjs http      (minimal Streamable HTTP, JSON answers, one session id)
 * Tools: echo {text} → the text; blob {bytes, dirty} → a text of that many bytes (cached); with dirty, a made-up
 * token and e-mail address every 2 KiB (what redaction has to rewrite).
 */
import http from 'node:http';
import { randomUUID } from 'node:crypto';

const blobs = new Map();
const PAT = ['ghp', '_', 'Rk7dW2pQ9sLx4Vb8Nc3Jm6Hf1Tg5Yz0AeUqK'].join('');
const blob = (n, dirty) => {
  const key = `${n}:${dirty ? 1 : 0}`;
  let s = blobs.get(key);
  if (!s) {
    const unit = 'lorem ipsum dolor sit amet, consectetur adipiscing elit. ';
    let text = unit.repeat(Math.ceil(n / unit.length));
    if (dirty) text = text.match(/[\s\S]{1,2048}/g).map((c, i) => `${c.slice(0, 1900)} token=${PAT} owner=ada${i}@analytical-engine.org `).join('');
    blobs.set(key, (s = text.slice(0, n)));
  }
  return s;
};
const TOOLS = [
  { name: 'echo', description: 'echo', inputSchema: { type: 'object', properties: { text: { type: 'string' } } } },
  { name: 'blob', description: 'blob', inputSchema: { type: 'object', properties: { bytes: { type: 'integer' }, dirty: { type: 'boolean' } } } },
];

function answer(msg) {
  const { id, method, params } = msg;
  if (id === undefined) return undefined;
  if (method === 'initialize') return { jsonrpc: '2.0', id, result: { protocolVersion: params?.protocolVersion ?? '2025-11-25', capabilities: { tools: {} }, serverInfo: { name: 'bench', version: '1' } } };
  if (method === 'tools/list') return { jsonrpc: '2.0', id, result: { tools: TOOLS } };
  if (method === 'ping') return { jsonrpc: '2.0', id, result: {} };
  if (method === 'tools/call') {
    const a = params?.arguments ?? {};
    const text = params?.name === 'blob' ? blob(a.bytes ?? 1024, a.dirty === true) : String(a.text ?? '');
    return { jsonrpc: '2.0', id, result: { content: [{ type: 'text', text }] } };
  }
  return { jsonrpc: '2.0', id, error: { code: -32601, message: 'Method not found' } };
}

if (process.argv[2] === 'http') {
  const sid = randomUUID();
  http
    .createServer((req, res) => {
      if (req.method !== 'POST') return res.writeHead(req.method === 'DELETE' ? 200 : 405).end();
      const parts = [];
      req.on('data', (c) => parts.push(c));
      req.on('end', () => {
        const msg = JSON.parse(Buffer.concat(parts).toString());
        const a = answer(msg);
        if (!a) return res.writeHead(202).end();
        const body = JSON.stringify(a);
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'mcp-session-id': sid }).end(body);
      });
    })
    .listen(Number(process.env.PORT ?? 0), '127.0.0.1', function () {
      process.stderr.write(`bench upstream listening on ${this.address().port}\n`);
    });
} else {
  let buf = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk) => {
    buf += chunk;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line) continue;
      const a = answer(JSON.parse(line));
      if (a) process.stdout.write(`${JSON.stringify(a)}\n`);
    }
  });
  process.stdin.on('end', () => process.exit(0));
}
