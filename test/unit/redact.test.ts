/**
 * The redaction engine on its own: the labelled corpus (recall and false positives), every shipped pattern
 * compiled by RE2, the validators, actions, the JSON walk (numbers, blobs, protocol fields, key names),
 * overlaps, limits and refusal of patterns RE2 cannot run.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildRedaction, DEFAULT_SETTINGS, type RedactionSettings } from '../../src/redact/setup.js';
import { loadPackFile, bundledPackFile, compileUserRules, parsePackText, RedactionRuleError, type RuleSpec } from '../../src/redact/rules.js';
import { Detector, literalPrefix, maxMatchBytes, SEPARATOR, variableLength, wholeGroup, type RawFinding } from '../../src/redact/detector.js';
import { blobText } from '../../src/redact/redactor.js';
import { aadhaar, aba, card, email, entropy, iban, ip, itin, jwt, luhn, nino, phone, phonelike, ssn, codicefiscale, dni, cpf, cnid, nric, curp, nir, bsn, detaxid, pesel, personnummer } from '../../src/redact/validators.js';
import { ROOT, writeTemp } from '../helpers/cli.js';

interface Corpus {
  positives: { rule: string; text: string; secret: string }[];
  negatives: { kind: string; text: string }[];
}

/** The stored corpus keeps each value in two halves and the text with a placeholder (see generate-corpus.mjs). */
function loadCorpus(): Corpus {
  const stored = JSON.parse(readFileSync(path.join(ROOT, 'test/fixtures/redaction/corpus.json'), 'utf8')) as { positives: { rule: string; text: string; secret: string[] }[]; negatives: Corpus['negatives'] };
  return {
    positives: stored.positives.map((p) => {
      const secret = p.secret.join('');
      return { rule: p.rule, secret, text: p.text.split('{{SECRET}}').join(secret) };
    }),
    negatives: stored.negatives,
  };
}

const corpus = loadCorpus();
const red = buildRedaction(DEFAULT_SETTINGS);
const settings = (over: Partial<RedactionSettings>): RedactionSettings => ({ ...DEFAULT_SETTINGS, ...over });

function covered(text: string, secret: string, findings: { start: number; end: number }[]): boolean {
  const s = text.indexOf(secret);
  let pos = s;
  for (const f of [...findings].sort((a, b) => a.start - b.start)) if (f.start <= pos && f.end > pos) pos = f.end;
  return pos >= s + secret.length;
}

describe('patterns tried only where their literal prefix occurs', () => {
  it('find a prefix only where every match must start with it', () => {
    const cases: [string, string | undefined][] = [
      ['\\b(ghp_[A-Za-z0-9]{36})\\b', 'ghp_'],
      ['(?:sk-ant-api03-)[A-Za-z0-9_-]{90}', undefined], // a group closing after the literal: not looked into
      ['(?:sk-ant-api03-[A-Za-z0-9_-]{90})', 'sk-ant-api03-'],
      ['"auth"\\s*:\\s*"([A-Za-z0-9+/]{16,})"', '"auth"'],
      ['(https:\\/\\/[a-f0-9]{32}@o\\d+)', 'https://'],
      ['xoxb-[0-9]+', 'xoxb-'],
      ['\\b(abcd)+x', undefined], // the group closes right after the literal
      ['(abc[0-9])?x', undefined], // optional group
      ['(abc[0-9])*x', undefined],
      ['(abc[0-9]){0,2}x', undefined],
      ['(abc[0-9]){,2}x', undefined],
      ['(abc[0-9]){1,2}x', 'abc'],
      ['(abc[0-9])+x', 'abc'],
      ['abc|xyz[0-9]', undefined], // alternation anywhere
      ['(?i)abcd[0-9]', undefined], // inline flags
      ['(?i:abcd)[0-9]', undefined],
      ['abcd?[0-9]', 'abc'], // a quantifier takes the last character back
      ['abd?[0-9]', undefined], // then too short
      ['ab[0-9]', undefined],
      ['^abcd[0-9]', undefined],
      ['[a]bcd[0-9]', undefined],
      ['abcd', 'abcd'],
      ['(abcd', undefined],
      ['(ab[]]cd)[0-9]', undefined],
    ];
    for (const [source, want] of cases) expect(literalPrefix(source), source).toBe(want);
  });

  it('tell when group 1 is the whole match, so an anchored test finds the value', () => {
    const cases: [string, boolean][] = [
      ['\\b(ghp_[A-Za-z0-9]{36})\\b', true],
      ['(glpat-[A-Za-z0-9_-]{20,})', true],
      ['\\b(xoxb-[0-9]+(?:-[a-z]+)?)', true],
      ['(AKIA)[A-Z2-7]{16}', false], // group 1 is part of the match
      ['\\b(ghp_[A-Za-z0-9]{36})\\B', false],
      ['\\b(ghp_[A-Za-z0-9]{36})x', false],
      ['(ghp_[A-Za-z0-9]{36})?', false],
      ['(ghp_[a-z]{3})(x)', false],
      ['(?:ghp_[a-z]{3})', false], // no group 1
      ['(?P<v>ghp_[a-z]{3})', false],
      ['x(ghp_[a-z]{3})', false],
      ['(ghp_[)a-z]{3})', true], // a ) inside a class does not close the group
      ['(ghp_\\)[a-z]{3})', true],
      ['(ghp_[a-z]{3}', false],
      ['(ghp_)|(x)', false],
    ];
    for (const [source, want] of cases) expect(wholeGroup(source), source).toBe(want);
  });

  it('give the same values with the anchored test as a full scan, when group 1 is the match or only part of it', () => {
    const rules = compileUserRules(
      [
        { id: 'whole', keywords: ['tok_'], pattern: '\\b(tok_[a-z0-9]{8})\\b' },
        { id: 'trailing', keywords: ['key_'], pattern: '\\b(key_[a-z0-9]{8})[.;]' },
        { id: 'inner', keywords: ['pin_'], pattern: '(pin_[a-z]{2})[0-9]{4}' },
      ] as RuleSpec[],
      'test.yaml',
      (i) => i + 1,
    );
    const fast = new Detector(rules);
    const full = new Detector(rules, { literalPrefixes: false });
    const text = 'tok_abcd1234 xtok_abcd1234 tok_abcd1234x key_abcd1234; key_abcd1234 key_abcd1234.tok_abcd1234 pin_ab1234 pin_xy12';
    const view = (d: Detector) => {
      const out: RawFinding[] = [];
      d.scanRules(text, rules, out, 100);
      return out.map((f) => `${f.rule.id}:${text.slice(f.start, f.end)}@${f.start}`);
    };
    expect(view(fast)).toEqual(view(full));
    expect(view(fast)).toEqual(['whole:tok_abcd1234@0', 'whole:tok_abcd1234@81', 'trailing:key_abcd1234@41', 'trailing:key_abcd1234@68', 'inner:pin_ab@94']);
  });

  it('bound the length of a match, or say it has none', () => {
    const cases: [string, number][] = [
      ['\\b(ghp_[A-Za-z0-9]{36})\\b', 160],
      ['(?:ab|cde){2}', 24],
      ['x{2,5}?y', 24],
      ['(?P<n>ab)c', 12],
      ['a(?i)b', 8],
      ['\\b+', 0],
      ['a+', Infinity],
      ['x{3,}', Infinity],
      ['[a-z]*', Infinity],
      ['(a|b+)', Infinity],
      ['\\1', Infinity],
      ['\\x41', Infinity],
      ['a{', Infinity],
      ['(ab', Infinity],
      ['ab)', Infinity],
    ];
    for (const [source, want] of cases) expect(maxMatchBytes(source), source).toBe(want);
  });

  it('give exactly the findings of a full scan, on the corpus and on hard cases', () => {
    const rules = red.rules.filter((r) => r.re && !r.key);
    const withPrefix = rules.filter((r) => literalPrefix(r.re!.source) !== undefined);
    expect(withPrefix.length).toBeGreaterThan(80);
    const fast = new Detector(rules);
    const full = new Detector(rules, { literalPrefixes: false });
    // Positives as written, run together, with a word character or a multi-byte one glued on either side (\b),
    // doubled, split by the string separator, and the negatives.
    const texts: string[] = [];
    for (const p of corpus.positives) {
      texts.push(p.text, `x${p.secret}x`, `é${p.secret}é`, `${p.secret}${p.secret}`, `${p.secret} ${p.secret}`, `${p.secret.slice(0, 6)}${SEPARATOR}${p.secret}`, `${p.secret.slice(0, -1)}`);
    }
    texts.push(corpus.positives.map((p) => p.text).join(' '), corpus.positives.map((p) => p.secret).join(''), corpus.negatives.map((n) => n.text).join('\n'));
    // Dense with a literal: the tries give up to a plain scan part way, and nothing is lost at the switch.
    const gh = corpus.positives.find((p) => p.rule === 'github-pat')!.secret;
    texts.push(`${'ghp_'.repeat(3000)} ${gh} ${'ghp_ '.repeat(3000)}${gh}`, `${gh} `.repeat(2000));
    let found = 0;
    for (const text of texts) {
      const a: RawFinding[] = [];
      const b: RawFinding[] = [];
      fast.scanRules(text, rules, a, 100_000);
      full.scanRules(text, rules, b, 100_000);
      const view = (l: RawFinding[]) => l.map((f) => `${f.rule.id}@${f.start}-${f.end}`);
      expect(view(a), text.slice(0, 80)).toEqual(view(b));
      found += a.filter((f) => withPrefix.includes(f.rule)).length;
    }
    expect(found).toBeGreaterThan(300);
  });
});

describe('triggers of variable length get a set of their own', () => {
  it('are told apart from fixed-length ones, escapes and classes aside', () => {
    const cases: [string, boolean][] = [
      ['[MNO][A-Za-z0-9_-]{23,27}\\.[A-Za-z0-9_-]{6}\\.', true],
      ['x{8,}', true],
      ['ab+c', true],
      ['(?:ab)*c', true],
      ['[0-9]{4}[ -]?[0-9]{4}', false],
      ['SK[0-9a-fA-F]{8}', false],
      ['\\+[1-9][0-9 ().-]{6}', false],
      ['(?i)c\\+\\+', false],
      ['[+*]{2}', false],
      ['a\\{2,3\\}', false],
    ];
    for (const [p, want] of cases) expect(variableLength(p), p).toBe(want);
  });

  it('still enable the rules they belong to, beside keywords and fixed triggers', () => {
    const rules = compileUserRules(
      [
        { id: 'spread', trigger: 'zq[0-9]+x', pattern: '(zq[0-9]+x)' },
        { id: 'fixed', trigger: 'kv[0-9]{3}', pattern: '(kv[0-9]{3})' },
        { id: 'word', keywords: ['plugh'], pattern: '(plugh[0-9])' },
        { id: 'spread2', trigger: 'wy[a-f]{2,}!', pattern: '(wy[a-f]{2,}!)' },
      ] as RuleSpec[],
      'test.yaml',
      (i) => i + 1,
    );
    const det = new Detector(rules);
    const ids = (t: string) => [...det.enabled(t)].map((r) => r.id).sort();
    expect(ids('a zq123x b')).toEqual(['spread']);
    expect(ids('kv123 and PLUGH7')).toEqual(['fixed', 'word']);
    expect(ids('wyabc! zq1x')).toEqual(['spread', 'spread2']);
    expect(ids('nothing here')).toEqual([]);
    expect(det.scan('zq42x kv999 plugh1 wyff!').map((f) => f.rule.id).sort()).toEqual(['fixed', 'spread', 'spread2', 'word']);
  });
});

describe('large texts, encoded into one reused buffer', () => {
  const PAT = `ghp_${'aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5'}`;
  const filler = (units: number, unit: string) => unit.repeat(Math.ceil(units / unit.length)).slice(0, units);
  const view = (text: string, list: RawFinding[]) => list.map((f) => `${f.rule.id}:${text.slice(f.start, f.end)}@${f.start}`);

  it('find in each text what a detector that never scanned before finds: nothing from an earlier, longer text', () => {
    const det = buildRedaction(DEFAULT_SETTINGS).detector;
    // Longest first, each at least 16 KiB (the scratch buffer's floor): a stale byte past a text's end would be read.
    const texts = [
      `${filler(60_000, 'lorem ipsum ')} token ${PAT} mail ada@analytical-engine.org`,
      filler(40_000, 'dolor sit amet '),
      `${filler(30_000, 'caf\u00e9 \u{1F600} ')}${PAT} ${filler(20_000, '\u00e9')}`,
      `${filler(20_000, 'x')}\n${PAT}`,
      `${filler(17_000, 'amet ')}${SEPARATOR}ada@analytical-engine.org`,
    ];
    for (const text of texts) {
      const fresh = buildRedaction(DEFAULT_SETTINGS).detector.scan(text);
      expect(view(text, det.scan(text)), text.slice(-60)).toEqual(view(text, fresh));
    }
    expect(view(texts[0]!, det.scan(texts[0]!))).toEqual([`github-pat:${PAT}@60007`, 'email:ada@analytical-engine.org@60053']);
    expect(det.scan(texts[1]!)).toEqual([]);
    // After multi-byte and astral characters: offsets in UTF-16 units.
    expect(view(texts[2]!, det.scan(texts[2]!))).toEqual([`github-pat:${PAT}@30000`]);
    expect(view(texts[4]!, det.scan(texts[4]!))).toEqual(['email:ada@analytical-engine.org@17001']);
  });

  it('redact one large payload after another, each on its own bytes', () => {
    const r = buildRedaction(DEFAULT_SETTINGS);
    const big = { content: [{ type: 'text', text: `${filler(50_000, 'lorem ')} ${PAT}` }] };
    expect(r.outbound.redact(big).counts).toEqual({ 'github-pat': 1 });
    expect(big.content[0]!.text.endsWith(' [REDACTED:github-pat]')).toBe(true);
    const clean = { content: [{ type: 'text', text: filler(30_000, 'token ') }, { type: 'text', text: filler(10_000, 'ipsum ') }] };
    expect(r.outbound.redact(clean)).toMatchObject({ changed: false, counts: {} });
    const two = { content: [{ type: 'text', text: filler(20_000, 'sit ') }, { type: 'text', text: `${PAT} ${filler(20_000, 'amet ')}` }] };
    expect(r.outbound.redact(two).counts).toEqual({ 'github-pat': 1 });
    expect(two.content[1]!.text.startsWith('[REDACTED:github-pat] amet')).toBe(true);
  });
});

describe('base64 inside text strings (redaction.decode_base64)', () => {
  const PAT = `ghp_${'aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5'}`;
  const on = buildRedaction(settings({ decodeBase64: true }));
  const b64 = (text: string) => Buffer.from(text).toString('base64');
  const wrap = (s: string, width: number, br = '\n') => s.match(new RegExp(`.{1,${width}}`, 'g'))!.join(br);
  const payload = (text: string) => ({ content: [{ type: 'text', text }] });
  const ENV = `# deploy settings\nGITHUB_TOKEN=${PAT}\nREGION=eu-west-1\n`;

  it('is off by default: base64 in a string passes as it came', () => {
    const v = payload(`.env (base64): ${b64(ENV)}`);
    expect(red.outbound.redact(v)).toMatchObject({ changed: false, counts: {} });
    expect(v.content[0]!.text).toBe(`.env (base64): ${b64(ENV)}`);
  });

  it('decodes a run, acts on what it holds, and encodes it again in place; text around it is scanned as before', () => {
    const v = payload(`owner ada@analytical-engine.org, .env (base64): ${b64(ENV)} (end)`);
    const r = on.outbound.redact(v);
    expect(r).toMatchObject({ changed: true, blocked: undefined, counts: { 'github-pat': 1, email: 1 } });
    const m = /^owner \[REDACTED:email\], \.env \(base64\): ([A-Za-z0-9+/]+=*) \(end\)$/.exec(v.content[0]!.text)!;
    expect(m).not.toBeNull();
    expect(Buffer.from(m[1]!, 'base64').toString()).toBe(ENV.replace(PAT, '[REDACTED:github-pat]'));
  });

  it('a text as `mcp-warden redact` sees it: findings around a run that changed length keep offsets in the input', () => {
    // A rule whose match encloses the run, one that ends where the run starts and one that starts where it ends.
    const r = buildRedaction(settings({ decodeBase64: true, rules: [{ id: 'framed', pattern: 'BEGIN[^<]*END', keywords: ['begin'] }, { id: 'edge', pattern: ':?(?:AT|TA)[0-9]{4}:?', keywords: ['at', 'ta'] }] })).outbound;
    const run = b64(ENV);
    const text = `BEGIN ${run} END | AT1234:${run}:TA5678 | ${PAT.slice(0, 10)}`;
    const out = r.redactTextAsSent(text);
    const spans = out.findings.map((f) => [f.rule, text.slice(f.start, f.end), f.base64 ?? false]);
    expect(spans).toEqual([
      ['framed', `BEGIN ${run} END`, false],
      ['github-pat', run, true],
      ['edge', 'AT1234:', false],
      ['github-pat', run, true],
      ['edge', ':TA5678', false],
    ]);
    expect(out.text).toMatch(/^\[REDACTED:framed\] \| \[REDACTED:edge\][A-Za-z0-9+/]+=*\[REDACTED:edge\] \| ghp_/);
    // A finding inside the run as it was encoded again spans the whole run in the input.
    const part = b64(ENV.replace(PAT, '[REDACTED:github-pat]')).slice(40, 52);
    const inner = buildRedaction(settings({ decodeBase64: true, rules: [{ id: 'inner', pattern: part.replace(/[+/]/g, '\\$&'), keywords: [part.toLowerCase()] }] })).outbound;
    const inside = `x ${run} y`;
    expect(inner.redactTextAsSent(inside).findings.map((f) => [f.rule, inside.slice(f.start, f.end)])).toEqual([
      ['inner', run],
      ['github-pat', run],
    ]);
    // Off, the same call is redactText.
    expect(red.outbound.redactTextAsSent(text)).toEqual(red.outbound.redactText(text));
  });

  it('joins lines of one width, so a secret a line break cuts in two is found, and wraps the new run the same way', () => {
    // 60 characters a line (as a REST API returns a file), CRLF; the token crosses the first line break.
    const text = `${'x'.repeat(30)}${ENV}`;
    const wrapped = wrap(b64(text), 60, '\r\n');
    const at = text.indexOf(PAT);
    expect(Math.floor(at / 45)).not.toBe(Math.floor((at + PAT.length - 1) / 45));
    const v = payload(`{"content":"${wrapped}","encoding":"base64"}`);
    expect(on.outbound.redact(v).counts).toEqual({ 'github-pat': 1 });
    const run = /"content":"([^"]*)"/.exec(v.content[0]!.text)![1]!;
    const lines = run.split('\r\n');
    expect(lines.slice(0, -1).every((l) => l.length === 60)).toBe(true);
    expect(lines.at(-1)!.length).toBeLessThanOrEqual(60);
    expect(Buffer.from(lines.join(''), 'base64').toString()).toBe(text.replace(PAT, '[REDACTED:github-pat]'));
  });

  it('in JSON returned as text (a REST API’s answer), lines joined by the escape \\n are one run too', () => {
    const text = `${'x'.repeat(30)}${ENV}`;
    const api = JSON.stringify({ name: '.env', encoding: 'base64', content: `${wrap(b64(text), 60)}\n`, note: `see\n${b64(ENV)}` });
    expect(api).toContain('\\n');
    const v = payload(api);
    expect(on.outbound.redact(v).counts).toEqual({ 'github-pat': 2 });
    const out = JSON.parse(v.content[0]!.text) as { content: string; note: string };
    const lines = out.content.split('\n');
    expect(lines.slice(0, -2).every((l) => l.length === 60)).toBe(true);
    expect(Buffer.from(lines.join(''), 'base64').toString()).toBe(text.replace(PAT, '[REDACTED:github-pat]'));
    expect(out.note).toBe(`see\n${Buffer.from(ENV.replace(PAT, '[REDACTED:github-pat]')).toString('base64')}`);
  });

  it('a short word on the line after full lines is not taken for the run’s tail', () => {
    // 90 bytes: exactly two full lines of 60, then a line that is not base64's tail.
    const text = `GITHUB_TOKEN=${PAT}\n`.padEnd(90, '#');
    expect(b64(text).length).toBe(120);
    const v = payload(`-----BEGIN SETTINGS-----\n${wrap(b64(text), 60)}\n-----END SETTINGS-----`);
    expect(on.outbound.redact(v).counts).toEqual({ 'github-pat': 1 });
    const lines = v.content[0]!.text.split('\n');
    expect(lines[0]).toBe('-----BEGIN SETTINGS-----');
    expect(lines.at(-1)).toBe('-----END SETTINGS-----');
    expect(Buffer.from(lines.slice(1, -1).join(''), 'base64').toString()).toBe(text.replace(PAT, '[REDACTED:github-pat]'));
  });

  it('keeps the alphabet and padding it came in: base64url without padding stays so', () => {
    const url = Buffer.from(`???${ENV}`).toString('base64url');
    expect(url).toMatch(/[-_]/);
    const v = payload(`state=${url}`);
    expect(on.outbound.redact(v).counts).toEqual({ 'github-pat': 1 });
    const out = v.content[0]!.text.slice('state='.length);
    expect(out).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(Buffer.from(out, 'base64url').toString()).toBe(`???${ENV}`.replace(PAT, '[REDACTED:github-pat]'));
    // Standard base64 is padded as the new length needs, unless the run was written without padding.
    const masked = Buffer.from(ENV.replace(PAT, '[REDACTED:github-pat]')).toString('base64');
    expect(masked).toMatch(/=$/);
    expect(b64(ENV).length % 4).toBe(0);
    const padded = payload(b64(ENV));
    on.outbound.redact(padded);
    expect(padded.content[0]!.text).toBe(masked);
    const bare = payload(`${b64(`${ENV}!!`).replace(/=+$/, '')}`);
    expect(bare.content[0]!.text.length % 4).not.toBe(0);
    on.outbound.redact(bare);
    expect(bare.content[0]!.text).toBe(Buffer.from(`${ENV}!!`.replace(PAT, '[REDACTED:github-pat]')).toString('base64').replace(/=+$/, ''));
  });

  it('leaves alone what does not decode to text: binary data, identifiers, digests', () => {
    const binary = Buffer.from(Array.from({ length: 96 }, (_, i) => (i * 37 + 11) % 256)).toString('base64');
    const text = `png ${binary} tool get_repository_file_contents_v2 digest e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855`;
    const v = payload(text);
    expect(on.outbound.redact(v)).toMatchObject({ changed: false, counts: {} });
    expect(v.content[0]!.text).toBe(text);
  });

  it('a finding inside is acted on as anywhere: block withholds the message, detect only counts it', () => {
    const block = buildRedaction(settings({ decodeBase64: true, actions: { 'github-pat': 'block' } }));
    expect(block.outbound.redact(payload(`x ${b64(ENV)}`)).blocked).toEqual({ rule: 'github-pat', category: 'secret' });
    const v = payload(`x ${b64(ENV)}`);
    expect(on.inbound.redact(v)).toMatchObject({ changed: false, counts: { 'github-pat': 1 } });
    expect(v.content[0]!.text).toBe(`x ${b64(ENV)}`);
  });

  it("a message's raw text stands in for its strings only without a run to decode", () => {
    const raw = JSON.stringify({ jsonrpc: '2.0', id: 1, result: payload(`x ${b64(ENV)}`) });
    expect(red.detector.rawTriggered(raw)).toBeDefined();
    expect(on.detector.rawTriggered(raw)).toBeUndefined();
    expect(on.detector.rawTriggered(JSON.stringify({ jsonrpc: '2.0', id: 1, result: payload('short words only') }))?.size).toBe(0);
    // Long runs with letters of one case (snake_case names, hex digests) cannot be base64 of text: still the fast path.
    const prose = payload('call get_repository_file_contents_v2, digest e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(on.detector.rawTriggered(JSON.stringify({ jsonrpc: '2.0', id: 1, result: prose }))?.size).toBe(0);
  });
});

describe('labelled corpus', () => {
  it('has at least 300 positives over 60 rules and 300 hard negatives', () => {
    expect(corpus.positives.length).toBeGreaterThanOrEqual(300);
    expect(new Set(corpus.positives.map((p) => p.rule)).size).toBeGreaterThanOrEqual(60);
    expect(corpus.negatives.length).toBeGreaterThanOrEqual(300);
    const ids = new Set(red.rules.map((r) => r.id));
    for (const p of corpus.positives) expect(ids, `corpus rule ${p.rule}`).toContain(p.rule);
  });

  it('every positive is still masked in markdown and in a sentence: inline code, bold, a query string, punctuation after it', () => {
    // Tools answer in markdown; a value in backticks, in bold, before "&page=2" or at the end of a sentence was
    // missed by rules whose label separator or closing boundary allowed only quotes, spaces and , ; }.
    const wraps: Record<string, (s: string) => string> = {
      code: (s) => `\`${s}\``,
      bold: (s) => `**${s}**`,
      sentence: (s) => `${s}.`,
      comma: (s) => `${s},`,
      query: (s) => `${s}&page=2`,
      paren: (s) => `${s})`,
      exclaim: (s) => `${s}!`,
      colon: (s) => `${s}:`,
    };
    const missed: string[] = [];
    for (const p of corpus.positives) {
      const secret = p.secret;
      const at = p.text.indexOf(secret);
      const [before, after] = [p.text.slice(0, at), p.text.slice(at + secret.length)];
      for (const [name, wrap] of Object.entries(wraps)) {
        const text = `${before}${wrap(secret)}${after}`;
        if (red.outbound.redactText(text).text.includes(secret)) missed.push(`${p.rule} (${name}): ${text.slice(0, 80)}`);
      }
    }
    expect(missed).toEqual([]);
    // A label in bold or in a table's cell next to its value.
    for (const [text, rule] of [
      ['| SSN | 304-68-9385 |', 'us-ssn'],
      ['| SSN | 304689385 |', 'us-ssn-labelled'],
      ['**SSN:** 304689385', 'us-ssn-labelled'],
      ['| Date of birth | 1976-02-17 |', 'date-of-birth'],
      ['**Routing number**: `021000021`', 'us-bank-routing'],
      ['Call 646-852-0522.', 'phone-nanp'],
    ] as const) {
      expect(red.outbound.findings(text).map((f) => f.rule), text).toContain(rule);
    }
  });

  it('recall ≥ 95 % and false positives ≤ 2 %, and the masked text no longer holds the value', () => {
    const missed: string[] = [];
    const perRule = new Map<string, { n: number; hit: number; exact: number }>();
    for (const p of corpus.positives) {
      const f = red.outbound.findings(p.text);
      const stat = perRule.get(p.rule) ?? { n: 0, hit: 0, exact: 0 };
      stat.n++;
      if (covered(p.text, p.secret, f)) {
        stat.hit++;
        if (f.some((x) => x.rule === p.rule)) stat.exact++;
        expect(red.outbound.redactText(p.text).text).not.toContain(p.secret);
      } else missed.push(`${p.rule}: ${p.text.slice(0, 80)}`);
      perRule.set(p.rule, stat);
    }
    const fps: string[] = [];
    for (const n of corpus.negatives) {
      const f = red.outbound.findings(n.text);
      if (f.length) fps.push(`${n.kind} → ${f.map((x) => x.rule).join(',')}: ${n.text.slice(0, 80)}`);
    }
    const recall = 1 - missed.length / corpus.positives.length;
    const fpRate = fps.length / corpus.negatives.length;
    const exact = [...perRule.values()].reduce((a, s) => a + s.exact, 0) / corpus.positives.length;
    mkdirSync(path.join(ROOT, 'test-artifacts'), { recursive: true });
    writeFileSync(
      path.join(ROOT, 'test-artifacts/redaction-corpus.json'),
      JSON.stringify({ positives: corpus.positives.length, rules: perRule.size, negatives: corpus.negatives.length, recall, exactRule: exact, falsePositiveRate: fpRate, missed, falsePositives: fps }, null, 2),
    );
    expect(missed, 'missed positives').toEqual([]);
    expect(recall).toBeGreaterThanOrEqual(0.95);
    expect(fpRate, fps.join('\n')).toBeLessThanOrEqual(0.02);
  });
});

describe('packs', () => {
  it('ship ≥ 150 secret rules over the major providers, every pattern compiled by RE2', () => {
    const secrets = loadPackFile(bundledPackFile('secrets'));
    const pii = loadPackFile(bundledPackFile('pii'));
    expect(secrets.rules.length).toBeGreaterThanOrEqual(150);
    const ids = secrets.rules.map((r) => r.id).join(' ');
    for (const p of ['aws', 'gcp', 'azure', 'github', 'gitlab', 'bitbucket', 'slack', 'discord', 'telegram', 'stripe', 'paypal', 'twilio', 'sendgrid', 'openai', 'anthropic', 'huggingface', 'npm', 'pypi', 'dockerhub', 'private-key', 'jwt', 'postgres', 'generic']) expect(ids).toContain(p);
    for (const id of ['email', 'phone-international', 'credit-card', 'iban', 'us-ssn', 'ipv4-address', 'ipv6-address']) expect(pii.rules.map((r) => r.id)).toContain(id);
    expect(pii.rules.find((r) => r.id === 'ipv4-address')!.enabled).toBe(false);
    for (const r of [...secrets.rules, ...pii.rules]) expect(r.re ?? r.key, r.id).toBeDefined();
  });

  it('test a rule allow-list and its pack allow-list as one anchored alternation, each pattern keeping its own flags', () => {
    const pack = parsePackText(
      'version: 1\npack: mine\nallow:\n  - "(?i)example.*"\n  - "XYZ[0-9]+"\nrules:\n  - id: own\n    pattern: "tok_([A-Za-z0-9]{8,})"\n    allow: ["(?i)aaaa.*"]\n  - id: plain\n    pattern: "key_([A-Za-z0-9]{8,})"\n  - id: plain-too\n    pattern: "pw_([A-Za-z0-9]{8,})"\n',
      'allow.yaml',
    );
    const [own, plain, plainToo] = pack.rules;
    expect(own!.allow).toHaveLength(1);
    // Rules with the same list share one compiled pattern.
    expect(plain!.allow[0]).toBe(plainToo!.allow[0]);
    const allowed = (r: typeof own, v: string) => r!.allow.some((a) => a.test(v));
    expect(allowed(own, 'EXAMPLEabc123')).toBe(true);
    expect(allowed(own, 'AaAa1234567')).toBe(true);
    expect(allowed(own, 'XYZ123')).toBe(true);
    // (?i) belongs to its own pattern: XYZ stays case-sensitive; anchored in full.
    expect(allowed(own, 'xyz123')).toBe(false);
    expect(allowed(own, 'XYZ123abc')).toBe(false);
    expect(allowed(own, 'realSecret99')).toBe(false);
    expect(allowed(plain, 'AaAa1234567')).toBe(false);
    expect(allowed(plain, 'example-token')).toBe(true);
    // A bad allow pattern is still named by its place in the list.
    expect(() => parsePackText('version: 1\npack: x\nrules:\n  - id: r\n    pattern: "a+"\n    allow: ["ok", "(?=no)"]\n', 'bad-allow.yaml')).toThrow(/rule r: allow\[1\] is not a valid RE2 pattern/);
    expect(() => parsePackText('version: 1\npack: x\nallow: ["fine", "(?<=no)x"]\nrules:\n  - id: r\n    pattern: "a+"\n', 'bad-pack-allow.yaml')).toThrow(/bad-pack-allow\.yaml: allow\[1\] is not a valid RE2 pattern/);
  });

  it('take a pack file as written: a ${VAR} in a pattern is text to find, not the environment', () => {
    const saved = process.env['MCPW_TEST_PACK_VAR'];
    process.env['MCPW_TEST_PACK_VAR'] = 'expanded';
    try {
      const pack = parsePackText("version: 1\npack: mine\nrules:\n  - id: tf-var\n    pattern: '(\\$\\{MCPW_TEST_PACK_VAR\\}|${MCPW_TEST_PACK_VAR})'\n", 'mine.yaml');
      expect(pack.rules[0]!.re!.source).toContain('${MCPW_TEST_PACK_VAR}');
      expect(pack.rules[0]!.re!.source).not.toContain('expanded');
      // An unset one is not an error either.
      delete process.env['MCPW_TEST_PACK_VAR'];
      expect(() => parsePackText("version: 1\npack: mine\nrules:\n  - id: tf-var\n    pattern: 'x${MCPW_TEST_PACK_VAR}'\n", 'mine.yaml')).not.toThrow();
    } finally {
      if (saved === undefined) delete process.env['MCPW_TEST_PACK_VAR'];
      else process.env['MCPW_TEST_PACK_VAR'] = saved;
    }
  });

  it('refuse a pattern RE2 cannot compile, naming file, line and rule', () => {
    const file = writeTemp('bad-pack.yaml', 'version: 1\npack: mine\nrules:\n  - id: ok-rule\n    pattern: "abc[0-9]+"\n  - id: lookahead\n    pattern: "(?=secret)[a-z]+"\n');
    let err: unknown;
    try {
      loadPackFile(file);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RedactionRuleError);
    expect(String((err as Error).message)).toMatch(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:6: rule lookahead: pattern is not a valid RE2 pattern`));
    expect(() => parsePackText('version: 1\npack: x\nrules:\n  - id: backref\n    pattern: "(a)\\\\1"\n', 'inline.yaml')).toThrow(/inline\.yaml:4: rule backref/);
    expect(() => parsePackText('version: 1\npack: x\nrules:\n  - id: e\n    pattern: "a*"\n', 'e.yaml')).toThrow(/matches the empty string/);
    expect(() => parsePackText('version: 1\npack: x\nrules:\n  - id: t\n    pattern: "a+"\n    trigger: "^a"\n', 't.yaml')).toThrow(/must not be anchored/);
    expect(() => parsePackText('version: 1\npack: x\nrules:\n  - id: u\n    pattern: "a+"\n    colour: red\n', 'u.yaml')).toThrow(/u\.yaml:6: rules\.0\.colour: unknown key/);
  });

  it('refuse a user rule RE2 cannot compile and unknown rule ids in the config', () => {
    expect(() => buildRedaction(settings({ rules: [{ id: 'mine', pattern: '(?<=x)y' }] }), '/etc/warden.yaml')).toThrow(/warden\.yaml:1: rule mine: pattern is not a valid RE2 pattern/);
    expect(() => buildRedaction(settings({ disable: ['no-such-rule'] }))).toThrow(/no rule "no-such-rule"/);
    expect(() => buildRedaction(settings({ actions: { 'githb-pat': 'block' } }))).toThrow(/githb-pat/);
  });
});

describe('validators', () => {
  it.each([
    [luhn, '4111111111111111', true],
    [luhn, '4111111111111112', false],
    [card, '4111 1111 1111 1111', true],
    [card, '1234 5678 9012 3456', false],
    [card, '4111 1111-1111 1111', false],
    [card, '378282246310005', true],
    [iban, 'DE89 3704 0044 0532 0130 00', true],
    [iban, 'DE89 3704 0044 0532 0130 01', false],
    [iban, 'GB82WEST12345698765432', true],
    [iban, 'XX82WEST12345698765432', false],
    [ssn, '536-22-1234', true],
    [ssn, '000-12-3456', false],
    [ssn, '666-12-3456', false],
    [ssn, '912-45-6789', false],
    [ssn, '536-00-1234', false],
    [ssn, '536-22-0000', false],
    [itin, '912-70-1234', true],
    [itin, '912-45-1234', false],
    [nino, 'AB 12 34 56 C', true],
    [nino, 'GB 12 34 56 C', false],
    [aba, '021000021', true],
    [aba, '021000022', false],
    [aadhaar, '234123412346', true],
    [aadhaar, '234123412347', false],
    [phone, '+44 20 7946 0958', true],
    [phone, '(415) 555-2671', true],
    [phone, '123-456-7890', false],
    // National identifiers: the public examples their issuers' and reference pages give, and each with its check changed.
    [codicefiscale, 'RSSMRA85T10A562S', true],
    [codicefiscale, 'RSSMRA85T10A562T', false],
    [dni, '12345678Z', true],
    [dni, '12345678A', false],
    [dni, 'X1234567L', true],
    [dni, 'X-1234567-L', true],
    [dni, 'X1234567Z', false],
    [cpf, '529.982.247-25', true],
    [cpf, '529.982.247-26', false],
    [cpf, '111.111.111-11', false],
    [cnid, '11010519491231002X', true],
    [cnid, '110105194912310021', false],
    [cnid, '110105194902300020', false], // the check holds, but there is no 30 February
    [nric, 'S1234567D', true],
    [nric, 'T1234567J', true],
    [nric, 'G1234567X', true],
    [nric, 'S1234567A', false],
    [curp, 'HEGG560427MVZRRL04', true],
    [curp, 'HEGG560427MVZRRL05', false],
    [nir, '2 55 08 14 168 025 38', true],
    [nir, '2 55 08 14 168 025 39', false],
    [bsn, '111222333', true],
    [bsn, '1112.22.333', true],
    [bsn, '111222334', false],
    [bsn, '000000000', false],
    [detaxid, '86095742719', true],
    [detaxid, '86 095 742 719', true],
    [detaxid, '86095742718', false],
    [detaxid, '06095742719', false],
    [pesel, '44051401359', true],
    [pesel, '02070803628', true],
    [pesel, '44051401358', false],
    [personnummer, '811228-9874', true],
    [personnummer, '19811228-9874', true],
    [personnummer, '811228-9875', false],
    [personnummer, '811328-9873', false], // the Luhn check holds, but there is no 13th month
    [phonelike, '020 7946 0958', true],
    [phonelike, '0171/2345678', true],
    [phonelike, '(030) 1234567', true],
    [phonelike, '123456', false],
    [phonelike, '1234567890123456', false],
    [phonelike, '2026-11-23', false],
    [phonelike, '23.11.2026', false],
    [phonelike, '0000000', false],
    [email, 'ada@analytical.engine.org', true],
    [email, 'icon@2x.png', false],
    [email, 'git@github.com', false],
    [jwt, 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl', true],
    [jwt, 'eyJub3QiOiJqd3QifQ.eyJzdWIiOiIxIn0.c2ln', false],
    [ip, '192.168.10.20', true],
    [ip, '1.2.3.4', false],
    [ip, '2001:db8::8a2e:370:7334', true],
  ] as const)('%o(%s) = %s', (fn, value, want) => {
    expect((fn as (s: string) => boolean)(value)).toBe(want);
  });

  it('entropy separates random tokens from words', () => {
    expect(entropy('aaaaaaaaaaaaaaaa')).toBe(0);
    expect(entropy('passwordpassword')).toBeLessThan(3);
    expect(entropy('q8Xz2LmP0vR7tK4wN9sB')).toBeGreaterThan(4);
  });

  it('entropy is the same figure, to the last bit, as counting in a Map, one string after another', () => {
    const reference = (s: string) => {
      const counts = new Map<number, number>();
      for (let i = 0; i < s.length; i++) counts.set(s.charCodeAt(i), (counts.get(s.charCodeAt(i)) ?? 0) + 1);
      let h = 0;
      for (const n of counts.values()) h -= (n / s.length) * Math.log2(n / s.length);
      return h;
    };
    let seed = 7;
    const rand = (n: number) => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n;
    const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/=_-.~ \u007f';
    const strings = ['', 'a', 'ab', '\u0000\u007f', 'q8Xz2LmP0vR7tK4wN9sB', 'ghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5'];
    for (let k = 0; k < 300; k++) {
      let s = '';
      const len = 1 + rand(80);
      for (let i = 0; i < len; i++) s += alphabet[rand(alphabet.length)];
      // Some strings leave ASCII part way (after counting some characters), then an ASCII one follows.
      if (k % 3 === 1) s = `${s.slice(0, len >> 1)}${['é', '\u00ff', '€', '😀', '\ud800'][k % 5]}${s.slice(len >> 1)}`;
      strings.push(s);
    }
    for (const s of strings) expect(Object.is(entropy(s), reference(s)), JSON.stringify(s)).toBe(true);
  });
});

describe('redacting JSON payloads', () => {
  const PAT = `ghp_${'aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5'}`;

  it('masks strings, numbers as decimal text and textual blobs; leaves protocol fields and binary blobs alone', () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]).toString('base64');
    const v = {
      content: [
        { type: 'text', text: `token ${PAT} for ada@analytical-engine.org` },
        { type: 'image', data: png, mimeType: 'image/png' },
        { type: 'resource', resource: { uri: 'file:///notes.txt', mimeType: 'text/plain', blob: Buffer.from(`key: ${PAT}\n`).toString('base64') } },
      ],
      structuredContent: { card: 4111111111111111, nextCursor: PAT, owner: 'octo' },
      _meta: { progressToken: PAT },
    };
    const r = red.outbound.redact(v);
    expect(r.changed).toBe(true);
    expect(r.counts).toEqual({ 'github-pat': 2, email: 1, 'credit-card': 1 });
    expect(v.content[0]!.text).toBe('token [REDACTED:github-pat] for [REDACTED:email]');
    expect(v.content[1]!.data).toBe(png);
    expect(Buffer.from(v.content[2]!.resource!.blob, 'base64').toString()).toBe('key: [REDACTED:github-pat]\n');
    expect(v.structuredContent.card).toBe('[REDACTED:credit-card]');
    expect(v.structuredContent.nextCursor).toBe(PAT);
    expect(v._meta.progressToken).toBe(PAT);
  });

  it('reads text out of a blob by its bytes, not its type: UTF-8, 8-bit, UTF-16; binary stays binary', () => {
    const b64 = (b: Buffer) => b.toString('base64');
    const zipLike = Buffer.from(Array.from({ length: 6000 }, (_, i) => (i * 151 + 89) % 256).map((x) => (x < 32 ? x + 160 : x)));
    expect(blobText(b64(Buffer.from('plain \u00e9t\u00e9\n')), 'image/png')).toEqual({ text: 'plain \u00e9t\u00e9\n', encoding: 'utf8' });
    expect(blobText(b64(Buffer.from('\ufeffbom kept')), undefined)).toEqual({ text: '\ufeffbom kept', encoding: 'utf8' });
    expect(blobText(b64(Buffer.from('caf\u00e9', 'latin1')), 'text/plain')).toEqual({ text: 'caf\u00e9', encoding: 'latin1' });
    expect(blobText(b64(Buffer.from('a latin-1 caf\u00e9 config', 'latin1')), 'application/octet-stream')?.encoding).toBe('latin1');
    expect(blobText(b64(Buffer.from('ascii in utf-16', 'utf16le')), undefined)).toEqual({ text: 'ascii in utf-16', encoding: 'utf16le' });
    expect(blobText(b64(Buffer.from('ascii in utf-16', 'utf16le').swap16()), undefined)).toEqual({ text: 'ascii in utf-16', encoding: 'utf16be' });
    // Media, compressed data and NUL-laden binary are left alone, whatever type they claim.
    expect(blobText(b64(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13])), 'text/plain')).toBeUndefined();
    expect(blobText(b64(zipLike), 'application/octet-stream')).toBeUndefined();
    expect(blobText(b64(Buffer.concat([Buffer.from('%PDF-1.7\n'), zipLike])), 'application/pdf')).toBeUndefined();
    expect(blobText('', 'text/plain')).toBeUndefined();
  });

  it('writes a masked blob back in the encoding it was read in, every other byte as it was', () => {
    const latin = Buffer.from(`r\u00e9sum\u00e9\ntoken=${PAT}\n\u00ff`, 'latin1');
    const be = Buffer.from(`\ufefftoken=${PAT}`, 'utf16le').swap16();
    const v = { contents: [{ uri: 'file:///a', blob: latin.toString('base64') }, { uri: 'file:///b', blob: be.toString('base64') }] };
    expect(red.outbound.redact(v).counts).toEqual({ 'github-pat': 2 });
    expect(Buffer.from(v.contents[0]!.blob, 'base64').toString('latin1')).toBe('r\u00e9sum\u00e9\ntoken=[REDACTED:github-pat]\n\u00ff');
    expect(Buffer.from(v.contents[1]!.blob, 'base64').swap16().toString('utf16le')).toBe('\ufefftoken=[REDACTED:github-pat]');
  });

  it('finds values by property name and leaves non-secret names alone', () => {
    const v = { db: { password: 'Tr0ub4dor&3x', passwordMinLength: 'twelve-chars', client_secret: 'zK93-aQ_7pLm2' }, nextPageToken: 'CAESBggDEAEYAQ-long-page' };
    red.outbound.redact(v);
    expect(v.db.password).toBe('[REDACTED:secret-by-key-name]');
    expect(v.db.client_secret).toBe('[REDACTED:secret-by-key-name]');
    expect(v.db.passwordMinLength).toBe('twelve-chars');
    expect(v.nextPageToken).toBe('CAESBggDEAEYAQ-long-page');
  });

  it('takes the raw fast path: no keyword in the bytes, nothing walked', () => {
    const raw = JSON.stringify({ content: [{ type: 'text', text: 'The weather in Paris is mild.' }] });
    const v = JSON.parse(raw) as unknown;
    const r = red.outbound.redact(v, { raw });
    expect(r.changed).toBe(false);
    expect(r.counts).toEqual({});
    // A JSON escape can hide a keyword from the raw bytes: then the decoded strings are scanned.
    const escaped = '{"text":"\\u0067hp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5"}';
    const w = JSON.parse(escaped) as { text: string };
    expect(red.outbound.redact(w, { raw: escaped }).counts).toEqual({ 'github-pat': 1 });
    expect(w.text).toBe('[REDACTED:github-pat]');
  });

  it('finds phone numbers in national form next to their label, in text and in properties named so, and nothing else', () => {
    // libphonenumber validates international and North American forms; a national number (a UK 020, a German 030, a
    // French 06) is valid in some region for almost any digits, so its label is the evidence.
    const labelled = ['Phone: 020 7946 0958', 'Tel. 030 12345678', 'Tél : 01 23 45 67 89', '{"mobile_number":"0612345678"}', '"phoneNumber": "(030) 1234567"', 'Mobile: 0412 345 678.',
      'Telefon: 0171/2345678', 'GSM: 0470 12 34 56', '| Phone | `020 7946 0958` |', '**Phone:** 020 7946 0958', 'Teléfono: 612 345 678', 'Phone/Fax: 030 1234567', 'Call my mobile: 07700 900123 after six'];
    for (const text of labelled) expect(red.outbound.findings(text).map((f) => f.rule), text).toEqual(['phone-labelled']);
    const look = ['hotel: 1234567', 'phone: 2026-11-23', 'phone_verified: true', 'Phone: 0000000', 'telemetry: 12345678', 'cell A1: 1234567', 'phone: 12', 'mobile app build 1234567',
      'phone_count: 1234567', 'iPhone 15 Pro', 'Intel 80386 12345678', 'Network: GSM 850/900/1800/1900', 'Tel 2 of 3', 'handy tool, open 24/7 at 1234567'];
    for (const text of look) expect(red.outbound.findings(text), text).toEqual([]);
    const v = {
      content: [],
      structuredContent: { customer: { homePhone: '020 7946 0958', fax: '030 1234567', tel: '06 12 34 56 78', mobileNumber: '0412 345 678', cell: 'B7', cell_count: '1234567', hotel: '1234567', born: '1980-01-02', phone: '2026-11-23', microphone: 'USB' } },
    };
    expect(red.outbound.redact(v, {}).counts).toEqual({ 'phone-by-key-name': 4 });
    expect(v.structuredContent.customer).toEqual({
      homePhone: '[REDACTED:phone-by-key-name]', fax: '[REDACTED:phone-by-key-name]', tel: '[REDACTED:phone-by-key-name]', mobileNumber: '[REDACTED:phone-by-key-name]',
      cell: 'B7', cell_count: '1234567', hotel: '1234567', born: '1980-01-02', phone: '2026-11-23', microphone: 'USB',
    });
    // The bench's log lines and its dirty text do not enable either rule: they stay on the fast path.
    const logLine = '2026-11-23T10:00:00Z INFO request completed status ok user session file path value /srv/data/app/1.json';
    const dirty = `2026-11-23T10:00:00Z INFO request token=${PAT} owner=ada@analytical-engine.org`;
    for (const text of [logLine, dirty]) expect([...red.detector.enabled(text)].map((r) => r.id).filter((id) => id.startsWith('phone-'))).toEqual([]);
  });

  it('finds national identifiers by their check character, in text and in structured content', () => {
    const v = {
      content: [{ type: 'text', text: 'Cliente RSSMRA85T10A562S, DNI 12345678Z, NIE X-1234567-L, CPF 529.982.247-25, 身份证 11010519491231002X, NRIC S1234567D, CURP HEGG560427MVZRRL04, NIR 2 55 08 14 168 025 38.' }],
      structuredContent: { customer: { cpf: '52998224725', taxCode: 'RSSMRA85T10A562S', order: '12345678A', ticket: 'S1234567A', cpf_count: '52998224725' } },
    };
    const r = red.outbound.redact(v, {});
    expect(r.counts).toEqual({ 'it-codice-fiscale': 2, 'es-dni-nie': 2, 'br-cpf': 1, 'cn-resident-id': 1, 'sg-nric-fin': 1, 'mx-curp': 1, 'fr-nir': 1, 'br-cpf-by-key-name': 1 });
    expect(v.content[0]!.text).toBe(
      'Cliente [REDACTED:it-codice-fiscale], DNI [REDACTED:es-dni-nie], NIE [REDACTED:es-dni-nie], CPF [REDACTED:br-cpf], 身份证 [REDACTED:cn-resident-id], NRIC [REDACTED:sg-nric-fin], CURP [REDACTED:mx-curp], NIR [REDACTED:fr-nir].',
    );
    // A code that fails its check (order, ticket) is left alone; so is a CPF's digits under another name.
    expect(v.structuredContent.customer).toEqual({ cpf: '[REDACTED:br-cpf-by-key-name]', taxCode: '[REDACTED:it-codice-fiscale]', order: '12345678A', ticket: 'S1234567A', cpf_count: '52998224725' });
  });

  it('ordinary words in prose and logs do not enable the session and Authorization rules', () => {
    // A keyword is a literal every match must hold; a common word as one (session, authorization, the fc- of RFC-) sent every
    // message mentioning it down the slow path: the bench's clean log lines (which say "session") lost the fast path.
    for (const text of ['The user session expired and authorization failed for the request; sign in again.', 'Per RFC-6749 the session handling is simpler.']) {
      const ids = [...red.detector.enabled(text)].map((r) => r.id);
      expect(ids, text).not.toContain('session-cookie');
      expect(ids, text).not.toContain('firecrawl-api-key');
      expect(ids, text).not.toContain('bearer-authorization-header');
    }
    // Words that hold a short secret name's ending (_pat in file_path, _auth in first_author, _pass in tests_passed).
    for (const text of ['{"file_path": "/srv/app/main.py", "first_author": "Ada", "tests_passed": 12, "by_pw_policy": "strict"}']) {
      expect([...red.detector.enabled(text)].map((r) => r.id), text).not.toContain('env-secret-assignment');
    }
    // A token written as token=… (the bench's dirty text) is generic-api-key's: the .env and Authorization rules,
    // which need NAME_TOKEN= at a line's start or "Token " after Authorization, are not run over it.
    const dirty = `2026-11-23T10:00:00Z INFO request token=${PAT} owner=ada@analytical-engine.org`;
    expect([...red.detector.enabled(dirty)].map((r) => r.id)).not.toContain('env-secret-assignment');
    expect([...red.detector.enabled(dirty)].map((r) => r.id)).not.toContain('bearer-authorization-header');
    const logLine = '2026-11-23T10:00:00Z INFO request completed status ok user session file path value /srv/data/app/1.json';
    expect([...red.detector.enabled(logLine)]).toEqual([]);
    // The rules still run where their values can be.
    expect([...red.detector.enabled('Cookie: sessionid=abc')].map((r) => r.id)).toContain('session-cookie');
    expect([...red.detector.enabled('Authorization: Token abc')].map((r) => r.id)).toContain('bearer-authorization-header');
  });

  it('scans the bytes a message was received as, when given, instead of encoding its text again', () => {
    const clean = JSON.stringify({ content: [{ type: 'text', text: 'The weather in Paris is mild. '.repeat(600) }] });
    const dirty = JSON.stringify({ content: [{ type: 'text', text: `The weather in Paris is mild. ${PAT}`.padEnd(clean.length - 40, ' ') }] });
    const det = red.detector;
    expect(det.rawTriggered(clean, Buffer.from(clean))?.size).toBe(0);
    expect([...(det.rawTriggered(dirty, Buffer.from(dirty)) ?? [])].map((r) => r.id)).toContain('github-pat');
    // The bytes decide (the transports guarantee they are the text's own): a caller must never pass others.
    expect([...(det.rawTriggered(clean, Buffer.from(dirty)) ?? [])].map((r) => r.id)).toContain('github-pat');
    const v = JSON.parse(dirty) as unknown;
    expect(red.outbound.redact(v, { raw: dirty, rawUtf8: Buffer.from(dirty) }).counts).toEqual({ 'github-pat': 1 });
  });

  it('uses the raw bytes only where their escapes are \\n, \\r or \\t (the same answer as /\\\\[^nrt]/)', () => {
    const det = red.detector;
    const pieces = ['\\n', '\\r', '\\t', '\\\\', '\\"', '\\/', '\\u0067', '\\b', 'ab', '\\\\n', 'n'];
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % pieces.length);
    for (let i = 0; i < 400; i++) {
      const body = Array.from({ length: 1 + (i % 7) }, () => pieces[rand()]).join('');
      const raw = `{"text":"weather ${body} mild"}`;
      const usable = !/\\[^nrt]/.test(raw);
      expect(det.rawTriggered(raw) !== undefined, raw).toBe(usable);
    }
    // A secret after an escaped newline is found either way; one behind an escaped backslash is found by decoding.
    for (const raw of [`{"text":"line\\n${PAT}"}`, `{"text":"a\\\\${PAT}"}`, `{"text":"\\\\n ${PAT}"}`]) {
      const v = JSON.parse(raw) as { text: string };
      expect(red.outbound.redact(v, { raw }).counts, raw).toEqual({ 'github-pat': 1 });
    }
  });

  it('does not let a match run across two strings', () => {
    const v = ['aws secret key =', 'AbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/Ab'];
    red.outbound.redact(v);
    expect(v[1]).toBe('AbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/Ab');
  });

  it('carries out each action; hash is stable and keyed; detect only counts; block withholds', () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    const mk = (action: RedactionSettings['action']) => buildRedaction(settings({ action, hashKey: key })).outbound;
    const text = `card 4111 1111 1111 1111 token ${PAT}`;
    expect(mk('mask').redactText(text).text).toBe('card [REDACTED:credit-card] token [REDACTED:github-pat]');
    expect(mk('partial').redactText(text).text).toBe('card [REDACTED:credit-card:****1111] token [REDACTED:github-pat:****xY5]'.replace('****xY5', `****${PAT.slice(-4)}`));
    const h1 = mk('hash').redactText(text).text;
    expect(h1).toMatch(/^card \[REDACTED:credit-card:[0-9a-f]{12}\] token \[REDACTED:github-pat:[0-9a-f]{12}\]$/);
    expect(mk('hash').redactText(text).text).toBe(h1);
    const other = buildRedaction(settings({ action: 'hash', hashKey: Buffer.alloc(32, 8).toString('base64') })).outbound;
    expect(other.redactText(text).text).not.toBe(h1);
    const d = mk('detect');
    const dv = { text };
    const dr = d.redact(dv);
    expect(dr.changed).toBe(false);
    expect(dr.counts).toEqual({ 'credit-card': 1, 'github-pat': 1 });
    expect(dv.text).toBe(text);
    const b = buildRedaction(settings({ actions: { 'github-pat': 'block' } })).outbound;
    const bv = { text };
    const br = b.redact(bv);
    expect(br.blocked).toEqual({ rule: 'github-pat', category: 'secret' });
    // Per category: pii detected only, secrets masked.
    const cat = buildRedaction(settings({ actions: { pii: 'detect' } })).outbound.redactText(text);
    expect(cat.text).toBe('card 4111 1111 1111 1111 token [REDACTED:github-pat]');
  });

  it('is idempotent: its own masks are never findings', () => {
    const once = red.outbound.redactText(`token ${PAT}, password = "Zq8!vL2#pW"`).text;
    expect(red.outbound.findings(once)).toEqual([]);
  });

  it('finds values that sit next to each other', () => {
    expect(red.outbound.redactText('a@bcd.io c@def.io, 4111111111111111 5500000000000004').text).toBe('[REDACTED:email] [REDACTED:email], [REDACTED:credit-card] [REDACTED:credit-card]');
  });

  it('credit-card: a number no card network starts with is not even a candidate, and every network is found', () => {
    // Every network the validator knows starts with 2-6; the pattern says so, so a millisecond timestamp (13 digits
    // from 1) or an id from 7-9 costs no match and no validation (numbers fill structured results).
    const rule = red.rules.find((r) => r.id === 'credit-card')!;
    const candidate = (s: string) => {
      rule.re!.lastIndex = 0;
      return rule.re!.test(s);
    };
    for (const n of ['1733526000000', '9876543210123456', '0012345678901', '7012 3456 7890 1234']) expect(candidate(` ${n} `), n).toBe(false);
    const luhn = (body: string) => {
      let sum = 0;
      for (let i = body.length - 1, double = true; i >= 0; i--, double = !double) {
        let d = Number(body[i]) * (double ? 2 : 1);
        if (d > 9) d -= 9;
        sum += d;
      }
      return body + ((10 - (sum % 10)) % 10);
    };
    // Visa, Mastercard (51-55 and 2221-2720), Amex, Discover, JCB, Diners, UnionPay, Maestro, Mir.
    for (const [prefix, length] of [['4', 16], ['4', 13], ['53', 16], ['2720', 16], ['37', 15], ['6011', 16], ['645', 19], ['3530', 16], ['305', 14], ['62', 17], ['6759', 18], ['2201', 16]] as const) {
      const n = luhn(prefix.padEnd(length - 1, '7'));
      const forms = [n, ...(length === 16 ? [n.replace(/(\d{4})(?=\d)/g, '$1 '), n.replace(/(\d{4})(?=\d)/g, '$1-')] : [])];
      for (const form of forms) expect(red.outbound.redactText(`paid with ${form}.`).text, form).toBe('paid with [REDACTED:credit-card].');
    }
  });

  it('finds a token whose last character is not a letter or digit (a - or = its alphabet allows)', () => {
    // \b after such a character needs a word character next: a Figma, SendGrid or Docker Hub token ending in -
    // (one in 64) passed whole. The packs end those patterns with "no word character next" instead.
    const a = 'AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEfGhIjKlMnOpQrStUvWxYz0123456789';
    const samples: [string, string][] = [
      ['figma-pat', `figd_${a.slice(0, 39)}-`],
      ['sendgrid-api-key', `SG.${a.slice(0, 22)}.${a.slice(0, 42)}-`],
      ['dockerhub-pat', `dckr_pat_${a.slice(0, 26)}-`],
      ['gitlab-oauth-app-secret', `gloas-${a.slice(0, 62)}--`],
      ['intercom-access-token', `intercom token = ${a.slice(0, 58)}==`],
    ];
    for (const [rule, token] of samples) {
      for (const text of [`see ${token} now`, token, `"${token}"`, `${token}\nnext`]) {
        const f = red.outbound.findings(text);
        expect(f.map((x) => x.rule), `${rule} in ${JSON.stringify(text)}`).toEqual([rule]);
        expect(red.outbound.redactText(text).text).not.toContain(token.slice(-20));
      }
      // Still not a match inside a longer run of word characters.
      expect(red.outbound.findings(`${token}abc`).filter((x) => x.rule === rule)).toEqual([]);
    }
    // No shipped pattern ends with \b right after a class that admits a character that is not a word character.
    const shapes = /\[([^\]]*)\](?:\{[0-9,]+\}|\+|\*)?\)\\b$/;
    for (const rule of red.rules) {
      const m = rule.re && shapes.exec(rule.re.source);
      if (!m) continue;
      const literal = m[1]!.replace(/[A-Za-z0-9]-[A-Za-z0-9]/g, '').replace(/\\./g, '');
      expect(literal.replace(/[A-Za-z0-9_]/g, ''), rule.id).toBe('');
    }
  });

  it('finds secrets under the names .env files and compose files give them, and leaves other names alone', () => {
    const v = 'Zq8vL2pW7xKd4RtY9bNc3MhJ6fGs1AeU';
    const names = ['ENCRYPTION_KEY', 'SIGNING_KEY', 'MASTER_KEY', 'APP_KEY', 'HMAC_KEY', 'JWT_SIGNING_KEY', 'LICENSE_KEY', 'DB_PASS', 'SMTP_PASS', 'ROOT_PW', 'GITLAB_PAT', 'BASIC_AUTH', 'PASSPHRASE', 'GOOGLE_APPLICATION_CREDENTIALS_JSON', 'WEBHOOK_SIGNING_SECRET', 'OPENAI_API_KEY'];
    for (const name of names) {
      for (const line of [`${name}=${v}`, `export ${name}="${v}"`, `  ${name}: ${v}`, `      - ${name}=${v}`]) expect(red.outbound.redactText(line).text, line).not.toContain(v);
    }
    // Names of keys that are not secrets, and references to secrets kept elsewhere.
    for (const line of ['PRIMARY_KEY: tenant_id_and_user_id', 'SORT_KEY=created_at_timestamp', 'CACHE_KEY: v2-deps-linux-node20', 'S3_KEY=uploads/2026/report.pdf', 'GITHUB_TOKEN: ${{secrets.GITHUB_TOKEN}}', 'DB_PASS=$(cat /run/secrets/db_pass)', '  - POSTGRES_PASSWORD_FILE=/run/secrets/pg', 'GOOGLE_APPLICATION_CREDENTIALS=/secrets/sa.json', 'SSH_AUTH_SOCK=/tmp/ssh-abc/agent.123']) {
      expect(red.outbound.findings(line), line).toEqual([]);
    }
  });

  it('prefers a specific rule to a generic one on the same text', () => {
    const f = red.outbound.findings(`api_key = ${PAT}`);
    expect(f.map((x) => x.rule)).toEqual(['github-pat']);
  });

  it('withholds a payload with more findings than max_findings', () => {
    const r = buildRedaction(settings({ maxFindings: 5 })).outbound;
    const v = { list: Array.from({ length: 10 }, (_, i) => `user${i}@mail-host.org`) };
    const out = r.redact(v);
    expect(out.blocked?.rule).toBe('too-many-findings');
  });

  it('runs user rules from the config, with keywords and validators, and enables rules shipped off', () => {
    const r = buildRedaction(settings({ rules: [{ id: 'employee-id', pattern: '\\b(EMP-[0-9]{6})\\b', keywords: ['emp-'] }], enable: ['ipv4-address'] })).outbound;
    expect(r.redactText('badge EMP-004211 at 192.168.40.7').text).toBe('badge [REDACTED:employee-id] at [REDACTED:ipv4-address]');
    expect(red.outbound.redactText('at 192.168.40.7').text).toBe('at 192.168.40.7');
  });

  it('stays linear on pathological input (every pattern is RE2)', () => {
    // Long runs that make backtracking engines explode: no exception, a result.
    const inputs = ['a'.repeat(200_000) + '!', `${'aws '.repeat(20_000)}`, `${'-----BEGIN PRIVATE KEY-----'.repeat(2000)}`, `${'1 '.repeat(100_000)}`, `${'x@'.repeat(50_000)}`];
    for (const s of inputs) expect(Array.isArray(red.outbound.findings(s))).toBe(true);
  });
});
