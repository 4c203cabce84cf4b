#!/usr/bin/env node
/**
 * Redaction engine figures (in-process, one core): throughput on clean and dirty tool results, and linear time
 * on pathological inputs for every shipped pattern and for a user-supplied one.
 *
 *   node bench/redaction.mjs [--quick]     prints JSON; bench/run.mjs includes it in docs/benchmarks.md
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { pct } from './common.mjs';

const QUICK = process.argv.includes('--quick');

const WORDS = 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua request completed status ok user session file path value'.split(' ');
let seed = 42;
const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
const pick = (a) => a[Math.floor(rand() * a.length)];
const hex = (n) => Array.from({ length: n }, () => '0123456789abcdef'[Math.floor(rand() * 16)]).join('');

/** Log-like lines: timestamps, ids, paths, hashes — what tool output looks like, with no secrets. */
function cleanText(bytes) {
  const lines = [];
  let size = 0;
  let i = 0;
  while (size < bytes) {
    const line = `2026-11-23T10:${String(i % 60).padStart(2, '0')}:00Z INFO ${Array.from({ length: 8 }, () => pick(WORDS)).join(' ')} id=${hex(8)}-${hex(4)} sha=${hex(40)} /srv/data/${pick(WORDS)}/${i}.json`;
    lines.push(line);
    size += line.length + 1;
    i++;
  }
  return lines.join('\n').slice(0, bytes);
}

/** The same with a secret or personal value in about one line in twenty. */
function dirtyText(bytes) {
  const pat = ['ghp', '_', 'Rk7dW2pQ9sLx4Vb8Nc3Jm6Hf1Tg5Yz0AeUqK'].join('');
  const lines = cleanText(bytes).split('\n');
  for (let i = 0; i < lines.length; i += 20) lines[i] = `${lines[i].slice(0, 60)} token=${pat} owner=ada${i}@analytical-engine.org`;
  return lines.join('\n').slice(0, bytes);
}

/**
 * A file as a REST API returns it, in a JSON answer a tool passes on as text: the dirty text base64-encoded in lines
 * of 60 characters (GitHub's contents API). Base64 is high-entropy text of every letter and digit, the input on which
 * a set of patterns searched together costs most (Detector: variable-length triggers get a set of their own).
 */
function base64File(bytes) {
  const content = Buffer.from(dirtyText(Math.floor((bytes * 3) / 4) - 200)).toString('base64').replace(/.{60}/g, '$&\n');
  return JSON.stringify({ path: '.env.production', encoding: 'base64', content });
}

/** A tools/call result as the stage sees it: text + structured copy. */
function result(text) {
  const rows = text.split('\n').slice(0, 2000);
  return { jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text }], structuredContent: { rows } } };
}

/**
 * A database tool's answer: rows of numbers (an id, a millisecond timestamp, an amount) and a short name, as JSON text
 * and as structured content, about `bytes` in all. Every number is scanned as its decimal text, and each 13-digit
 * timestamp has the length of a card number.
 */
function numberRows(bytes) {
  const rows = [];
  for (let i = 0, size = 0; size < bytes / 2; i++) {
    const row = { id: 100000 + i, ts: 1764000000000 + i * 37, user: `u${i % 97}`, amount: Math.round(rand() * 1e6) / 100 };
    rows.push(row);
    size += JSON.stringify(row).length + 1;
  }
  return { jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: JSON.stringify(rows) }], structuredContent: { rows } } };
}

function time(fn, minMs = 300) {
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  do {
    fn();
    n++;
    t = performance.now();
  } while (t - t0 < minMs);
  return (t - t0) / n;
}

/**
 * Where a dirty text's time goes, rule by rule: the rules its keywords enable, each run over the text's UTF-8 bytes
 * three ways. `test` in a loop finds each match's end and nothing more (RE2's scan); `exec` with group indices, as
 * the engine calls it, also extracts the value and builds a result object per match; the engine's own loop
 * (Detector.scanRules) adds each finding's checks (validators, entropy, allow and exclude patterns). Medians of 15.
 * Then one match, alone: `exec` against `test` on a short Buffer, for a one-character pattern with a group (the
 * binding's own cost per result) and for the e-mail rule's pattern with its group and without it (the engine's
 * submatch work).
 */
function perMatch(det, text) {
  const require = createRequire(import.meta.url);
  const RE2 = require('re2');
  const buf = Buffer.from(text);
  const median = (fn) => {
    const t = [];
    for (let i = 0; i < 15; i++) {
      const s = performance.now();
      fn();
      t.push(performance.now() - s);
    }
    return pct(t.sort((a, b) => a - b), 50);
  };
  const enabled = [...det.enabled(text)];
  const rules = [];
  for (const rule of enabled) {
    if (!rule.re || rule.key) continue;
    const t = new RE2(rule.re.source, 'g');
    const e = new RE2(rule.re.source, 'gd');
    let matches = 0;
    const testMs = median(() => {
      t.lastIndex = 0;
      for (matches = 0; t.test(buf); ) matches++;
    });
    const execMs = median(() => {
      e.lastIndex = 0;
      for (let m; (m = e.exec(buf)); ) e.lastIndex = Math.max((m.indices[1] ?? m.indices[0])[1], m.index + 1);
    });
    let findings = 0;
    const engineMs = median(() => {
      const found = [];
      det.scanRules(text, [rule], found, 1e9);
      findings = found.length;
    });
    // Detector's private prefixOf: whether this rule is tried only where its literal occurs.
    rules.push({ id: rule.id, matches, findings, testMs, execMs, engineMs, literal: det.prefixOf(rule) !== null });
  }
  const allMs = median(() => det.scanRules(text, enabled, [], 1e9));
  const one = Buffer.from('lorem ipsum dolor token=abc owner=ada12@analytical-engine.org lorem ipsum');
  const perCall = (re, fn) => {
    const n = 20000;
    for (let i = 0; i < 2000; i++) fn(re);
    const s = performance.now();
    for (let i = 0; i < n; i++) fn(re);
    return ((performance.now() - s) * 1000) / n;
  };
  const exec = (re) => {
    re.lastIndex = 20;
    re.exec(one);
  };
  const test = (re) => {
    re.lastIndex = 20;
    re.test(one);
  };
  const email = det.rules.find((r) => r.id === 'email')?.re?.source;
  const micro = {
    tinyExecUs: perCall(new RE2('o(w)', 'gd'), exec),
    tinyTestUs: perCall(new RE2('o(w)', 'g'), test),
    emailExecUs: email ? perCall(new RE2(email, 'gd'), exec) : undefined,
    emailNoGroupExecUs: email ? perCall(new RE2(email.replace(/\((?!\?)/g, '(?:'), 'gd'), exec) : undefined,
    emailTestUs: email ? perCall(new RE2(email, 'g'), test) : undefined,
    bytes: one.length,
  };
  return { bytes: buf.length, rules, allMs, copyMs: median(() => det.utf8(text)), micro };
}

/**
 * The stage's work on one message (walk, prefilter, rules, replace, serialise if changed), for at least `minMs` and
 * five runs: the median time, the runs made and the last run's counts. The stage works in place, so every run needs a
 * freshly parsed message; the parse, which the proxy does for every message whether redaction is on or not, happens
 * outside the timing. The median run counts: a collection of the parser's garbage landing in one run is not the
 * engine's cost.
 */
function stageMs(red, raw, rawUtf8, minMs) {
  const runs = [];
  let counts = {};
  const t0 = performance.now();
  while (performance.now() - t0 < minMs || runs.length < 5) {
    const msg = JSON.parse(raw);
    const s = performance.now();
    const r = red.outbound.redact(msg.result, { raw, rawUtf8 });
    if (r.changed) JSON.stringify(msg);
    runs.push(performance.now() - s);
    counts = r.counts;
  }
  runs.sort((a, b) => a - b);
  return { ms: runs[Math.floor(runs.length / 2)], runs: runs.length, counts };
}

/**
 * `redaction.decode_base64` off and on, on 1 MiB results (median time of the stage's work, the parse outside): the
 * clean log lines above (hex ids and digests: runs of one letter case, not decoded), a REST API's file (the dirty
 * text base64-encoded and wrapped at 60 characters, inside a JSON text), and short base64 texts side by side (every
 * run decoded and scanned: a server's worst case).
 */
function decodeBench(buildRedaction, defaults) {
  const off = buildRedaction(defaults);
  const on = buildRedaction({ ...defaults, decodeBase64: true });
  const size = 1024 * 1024;
  let short = '';
  for (let i = 0; short.length < size; i++) short += `${Buffer.from(`status ${i}: request completed ok`).toString('base64')} `;
  const inputs = [
    ['clean log lines', cleanText(size)],
    ["a REST API's file: dirty text in base64, 60-character lines", base64File(size)],
    ['short base64 texts side by side (every run decoded)', short.slice(0, size)],
  ];
  const rows = [];
  for (const [kind, text] of inputs) {
    const raw = JSON.stringify({ jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text }] } });
    const rawUtf8 = Buffer.from(raw);
    const row = { kind, bytes: raw.length };
    for (const [mode, red] of [['off', off], ['on', on]]) {
      const { ms, counts } = stageMs(red, raw, rawUtf8, 400);
      row[mode] = { ms, findings: Object.values(counts).reduce((a, b) => a + b, 0) };
    }
    rows.push(row);
  }
  return rows;
}

export async function redactionBench() {
  const { buildRedaction, DEFAULT_SETTINGS } = await import('../dist/redact/setup.js');
  const { compileRule } = await import('../dist/redact/rules.js');
  const red = buildRedaction(DEFAULT_SETTINGS);
  const out = { throughput: [], linear: [] };

  // Throughput: the stage's work on one message (parse, walk, prefilter, rules, replace, serialise if changed).
  const texts = [['clean', cleanText], ['dirty', dirtyText], ["base64 file (a REST API's answer)", base64File]].map(([kind, make]) => [kind, (size) => result(make(size))]);
  for (const [kind, message] of [...texts, ["rows of numbers (a database tool's answer)", numberRows]]) {
    for (const size of QUICK ? [10 * 1024, 1024 * 1024] : [10 * 1024, 1024 * 1024, 10 * 1024 * 1024]) {
      const raw = JSON.stringify(message(size));
      // The bytes the message arrived as: a transport keeps them with a message of 16 KiB or more (Frame.utf8).
      const rawUtf8 = Buffer.byteLength(raw) >= 16 * 1024 ? Buffer.from(raw) : undefined;
      const { ms, runs } = stageMs(red, raw, rawUtf8, size > 5e6 ? 1500 : 400);
      out.throughput.push({ kind, bytes: raw.length, ms, runs, mbps: raw.length / 1e6 / (ms / 1000) });
    }
  }
  // The detector alone over plain text (what `mcp-warden redact` does).
  for (const [kind, make] of [['clean', cleanText], ['dirty', dirtyText]]) {
    const text = make(1024 * 1024);
    const ms = time(() => red.outbound.redactText(text));
    out.throughput.push({ kind: `${kind} text (redact command)`, bytes: text.length, ms, mbps: text.length / 1e6 / (ms / 1000) });
  }

  out.perMatch = perMatch(red.detector, dirtyText(1024 * 1024));
  out.decode = decodeBench(buildRedaction, DEFAULT_SETTINGS);

  // Linear time: each rule on adversarial inputs of size n and 4n; the ratio of times stays near 4.
  const adversarial = (rule, n) => {
    const k = rule.keywords[0] ?? 'key';
    return [
      'a'.repeat(n),
      `${k} `.repeat(Math.ceil(n / (k.length + 1))).slice(0, n),
      `${k}=`.padEnd(n, 'A'),
      `${'-----BEGIN PRIVATE KEY-----\n'}${'QUJD'.repeat(n / 4)}`.slice(0, n),
      '1 '.repeat(n / 2),
      'x@'.repeat(n / 2),
    ];
  };
  const user = compileRule({ id: 'user-nested-quantifier', pattern: '((a+)+)+b', keywords: ['a'] }, 'bench', { category: 'custom', allow: [], allowCache: new Map() }, 'bench');
  const rules = [...red.rules.filter((r) => r.re), user];
  const n = QUICK ? 16 * 1024 : 64 * 1024;
  let worst = { ratio: 0, rule: '', ms4n: 0 };
  let total1 = 0;
  let total4 = 0;
  for (const rule of rules) {
    for (let i = 0; i < 6; i++) {
      // As the engine runs them: on UTF-8 buffers.
      const a = Buffer.from(adversarial(rule, n)[i]);
      const b = Buffer.from(adversarial(rule, 4 * n)[i]);
      const run = (s) => () => {
        rule.re.lastIndex = 0;
        let m;
        let guard = 0;
        while ((m = rule.re.exec(s)) && guard++ < 1e6) rule.re.lastIndex = Math.max(m.index + 1, (m.indices[1] ?? m.indices[0])[1]);
      };
      const t1 = time(run(a), 5);
      const t4 = time(run(b), 5);
      total1 += t1;
      total4 += t4;
      const ratio = t4 / Math.max(t1, 1e-3);
      if (t4 > 0.5 && ratio > worst.ratio) worst = { ratio, rule: rule.id, ms4n: t4 };
    }
  }
  // V8's backtracking engine on the user pattern, for contrast (bounded input: it is exponential).
  const v8 = /(a+)+b/;
  const t0 = performance.now();
  v8.test('a'.repeat(22));
  const v8ms = performance.now() - t0;
  const t1 = performance.now();
  user.re.lastIndex = 0;
  user.re.exec('a'.repeat(22));
  const re2ms = performance.now() - t1;
  out.linear = { rules: rules.length, inputsPerRule: 6, n, totalMsN: total1, totalMs4N: total4, ratio: total4 / total1, worst, userPattern: '((a+)+)+b', v8Pattern: '(a+)+b', v8ms22: v8ms, re2ms22: re2ms };
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  redactionBench().then((r) => process.stdout.write(`${JSON.stringify(r, null, 2)}\n`));
}
