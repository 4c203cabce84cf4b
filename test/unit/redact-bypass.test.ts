/**
 * Issue 9: redaction bypass suite. Each evasion of a known secret is either caught (asserted) or a documented limit
 * (asserted as not caught, so a change in behaviour is noticed and SECURITY.md kept true). Values come from the
 * labelled corpus (test/fixtures/redaction/corpus.json, written by us from documented formats).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildRedaction, DEFAULT_SETTINGS } from '../../src/redact/setup.js';
import { ROOT } from '../helpers/cli.js';

const stored = JSON.parse(readFileSync(path.join(ROOT, 'test/fixtures/redaction/corpus.json'), 'utf8')) as { positives: { rule: string; secret: string[] }[] };
const secretOf = (rule: string) => stored.positives.find((p) => p.rule === rule)!.secret.join('');
const red = buildRedaction(DEFAULT_SETTINGS);

/** True when every character of `secret`'s visible part is inside some finding. */
function caught(text: string, secret: string): boolean {
  const f = red.outbound.findings(text);
  const start = text.indexOf(secret[0]!);
  const end = text.lastIndexOf(secret[secret.length - 1]!) + 1;
  return f.some((x) => x.start <= start && x.end >= end);
}

const RULES = ['github-pat', 'aws-access-key-id', 'stripe-secret-key', 'openai-api-key', 'slack-bot-token'];
const ZW = ['\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u00ad'];

describe('caught', () => {
  it.each(RULES)('%s: plain, and with invisible characters inserted (each kind, several places)', (rule) => {
    const s = secretOf(rule);
    expect(caught(`token: ${s} end`, s)).toBe(true);
    for (const z of ZW) {
      const spiked = `${s.slice(0, 4)}${z}${s.slice(4, 9)}${z}${z}${s.slice(9)}`;
      const text = `token: ${spiked} end`;
      expect(caught(text, spiked), `${rule} with U+${z.charCodeAt(0).toString(16)}`).toBe(true);
      // The masked text no longer holds the value, with or without the invisible characters.
      const masked = maskWith(text);
      expect(masked.replace(/[\u00ad\u200b-\u200d\u2060\ufeff]/g, '')).not.toContain(s.slice(4));
    }
  });

  it('a database URL whose password is percent-encoded', () => {
    const t = 'postgres://app:p%40ss%2Fw0rd-Zx9@db.internal:5432/prod';
    const f = red.outbound.findings(t);
    expect(f.some((x) => t.slice(x.start, x.end).includes('p%40ss'))).toBe(true);
  });

  it('a secret inside a longer word-like run, and across a line break inside a JSON string value', () => {
    const s = secretOf('aws-access-key-id');
    expect(caught(`key=${s}\nnext line`, s)).toBe(true);
    expect(caught(`"${s}"`, s)).toBe(true);
  });
});

describe('known limits (documented in SECURITY.md)', () => {
  const s = secretOf('github-pat');
  it('a secret split across two strings (two content blocks) is not caught', () => {
    expect(caught(`${s.slice(0, 12)}\u0000${s.slice(12)}`, s.slice(0, 12))).toBe(false);
  });
  it('a base64-encoded secret in a text field is not caught by default (redaction.decode_base64 off)', () => {
    const b = Buffer.from(s).toString('base64');
    expect(red.outbound.findings(`blob ${b} end`).length).toBe(0);
  });
  it('a secret with confusable letters is not caught (and is not a working credential either)', () => {
    const conf = s.replace('g', '\u0261').replace('p', '\u0440');
    expect(red.outbound.findings(`token ${conf}`).some((f) => f.rule.id === 'github-pat')).toBe(false);
  });
  it('a spaced-out or reversed secret is not caught', () => {
    expect(red.outbound.findings(s.split('').join(' ')).some((f) => f.rule.id === 'github-pat')).toBe(false);
    expect(red.outbound.findings(s.split('').reverse().join('')).some((f) => f.rule.id === 'github-pat')).toBe(false);
  });
});

function maskWith(text: string): string {
  const f = red.outbound.findings(text).sort((a, b) => b.start - a.start);
  let out = text;
  for (const x of f) out = `${out.slice(0, x.start)}[REDACTED]${out.slice(x.end)}`;
  return out;
}
