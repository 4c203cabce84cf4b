/**
 * What the build prepares so `wrap` and `serve` start fast (scripts/build-assets.mjs): the bundled redaction packs
 * as checked JSON and the shipped schemas as compiled validators. Each must be used only while it matches its
 * source, give the same answers as the slow path, and never turn a bad pack or config into an accepted one.
 * `npm test` builds first, so dist/ holds what the build made.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { configSchema, shippedSchema } from '../../src/config/config.js';
import { AJV_OPTIONS, validatorKey } from '../../src/config/yaml.js';
import { BUNDLED_PACKS, bundledPackFile, parsePackText, prebuildPack, RedactionRuleError, type Pack } from '../../src/redact/rules.js';
import { ROOT } from '../helpers/cli.js';

const sha256 = (t: string) => createHash('sha256').update(t).digest('hex');

/** What a compiled pack does, comparable across loads. */
function shape(p: Pack) {
  return p.rules.map((r) => ({
    id: r.id,
    category: r.category,
    re: r.re ? `${r.re.source}/${r.re.flags}` : null,
    key: r.key?.source ?? null,
    keywords: r.keywords,
    trigger: r.trigger ?? null,
    exclude: r.exclude?.source ?? null,
    entropy: r.entropy ?? null,
    minLength: r.minLength,
    validate: r.validate?.name ?? null,
    allow: r.allow.map((a) => a.source),
    action: r.action ?? null,
    generic: r.generic,
    enabled: r.enabled,
  }));
}

describe('prebuilt redaction packs', () => {
  it('give the same rules as parsing the YAML', () => {
    for (const name of BUNDLED_PACKS) {
      const file = bundledPackFile(name);
      const text = readFileSync(file, 'utf8');
      const full = parsePackText(text, file);
      const fast = parsePackText(text, file, prebuildPack(text, file));
      expect(fast.name).toBe(full.name);
      expect(fast.rules.length).toBeGreaterThan(10);
      expect(shape(fast)).toEqual(shape(full));
    }
  });

  it('are used only for the exact text they were built from', () => {
    const file = bundledPackFile('pii');
    const text = readFileSync(file, 'utf8');
    const stale = prebuildPack(text, file);
    // The pack was edited after the build: one rule fewer. The edit wins, not the stale copy.
    const edited = text.replace(/\n {2}- id: email\n[\s\S]*?(?=\n {2}- id: )/, '');
    expect(edited).not.toBe(text);
    const loaded = parsePackText(edited, file, stale);
    expect(loaded.rules.map((r) => r.id)).not.toContain('email');
    expect(loaded.rules.length).toBe(parsePackText(text, file).rules.length - 1);
    // An edit that breaks the pack is refused with its line, exactly as without a prebuilt copy.
    const broken = `${text.trimEnd()}\n  - id: look-around\n    pattern: "(?=x)y"\n`;
    expect(() => parsePackText(broken, file, stale)).toThrow(RedactionRuleError);
    expect(() => parsePackText(broken, file, stale)).toThrow(/:\d+: rule look-around: pattern is not a valid RE2 pattern/);
  });

  it('fall back to the YAML when the stored copy cannot be compiled', () => {
    const file = bundledPackFile('pii');
    const text = readFileSync(file, 'utf8');
    const damaged = { sha256: sha256(text), value: { version: 1, pack: 'pii', rules: [{ id: 'x', pattern: '(a)\\1' }] } };
    expect(shape(parsePackText(text, file, damaged))).toEqual(shape(parsePackText(text, file)));
    const notAPack = { sha256: sha256(text), value: { rules: 'nope' } };
    expect(shape(parsePackText(text, file, notAPack))).toEqual(shape(parsePackText(text, file)));
  });

  it('are in dist/ after the build, matching the shipped YAML, and the built loader takes them', async () => {
    const built = (await import(path.join(ROOT, 'dist/redact/rules.js'))) as typeof import('../../src/redact/rules.js');
    for (const name of BUNDLED_PACKS) {
      const stored = JSON.parse(readFileSync(built.prebuiltPackFile(name), 'utf8')) as { sha256: string; value: { rules: unknown[] } };
      const text = readFileSync(bundledPackFile(name), 'utf8');
      expect(stored.sha256).toBe(sha256(text));
      expect(built.prebuiltPack(built.bundledPackFile(name))?.sha256).toBe(stored.sha256);
      expect(shape(built.loadPackFile(built.bundledPackFile(name)) as Pack)).toEqual(shape(parsePackText(text, bundledPackFile(name))));
    }
    // A user's pack file is never matched to a prebuilt copy, whatever it is called.
    expect(built.prebuiltPack(path.join(ROOT, 'test', 'secrets.yaml'))).toBeUndefined();
  });
});

describe('prebuilt schema validators', () => {
  const file = path.join(ROOT, 'dist/config/validators.cjs');
  const SETS: [object, object[]][] = [
    [configSchema(), [shippedSchema('redaction.schema.json')]],
    [shippedSchema('policy.schema.json'), []],
    [shippedSchema('redaction.schema.json'), []],
  ];
  const DOCS: unknown[] = [
    { servers: { files: { command: 'npx', args: ['-y', 'x'] } }, limits: { request_timeout_s: 5 } },
    { servers: { files: { command: 'npx', comand: 'typo' } } },
    { servers: { 'bad name!': { url: 42 } }, listen: { port: 'eighty' }, redaction: { packs: ['secrets'], actions: { email: 'obliterate' } } },
    { version: 1, rules: [{ id: 'r', match: { tools: ['a'] }, effect: 'allow' }] },
    { version: 2, rules: [{ effect: 'maybe' }], extra: true },
    { version: 1, pack: 'x', rules: [{ id: 'a', pattern: 'a+' }] },
    { version: 1, pack: 'x', rules: [{ id: 'a', colour: 'red' }] },
    null,
    'text',
  ];

  it('are built, one per shipped schema, keyed by the schema text', () => {
    expect(existsSync(file)).toBe(true);
    const mod = createRequire(import.meta.url)(file) as { keys: Record<string, string> } & Record<string, unknown>;
    for (const [schema, refs] of SETS) {
      const name = mod.keys[validatorKey(schema, refs)];
      expect(name, (schema as { $id: string }).$id).toBeDefined();
      expect(typeof mod[name!]).toBe('function');
    }
    // An edited schema has another key, so it is compiled at run time instead.
    const edited = { ...(configSchema() as Record<string, unknown>), additionalProperties: true };
    expect(mod.keys[validatorKey(edited, SETS[0]![1])]).toBeUndefined();
  });

  it('answer exactly as a validator compiled at run time, errors included', async () => {
    const built = (await import(path.join(ROOT, 'dist/config/yaml.js'))) as typeof import('../../src/config/yaml.js');
    const mod = createRequire(import.meta.url)(file) as { keys: Record<string, string> } & Record<string, unknown>;
    for (const [schema, refs] of SETS) {
      const fast = built.schemaValidator(schema, refs);
      expect(fast).toBe(mod[mod.keys[validatorKey(schema, refs)]!]);
      const ajv = new Ajv(AJV_OPTIONS);
      for (const r of refs) ajv.addSchema(r);
      const slow = ajv.compile(schema);
      let invalid = 0;
      for (const doc of DOCS) {
        const ok = fast(doc);
        expect(ok).toBe(slow(doc));
        expect(fast.errors ?? null).toEqual(slow.errors ?? null);
        if (!ok) invalid++;
      }
      expect(invalid).toBeGreaterThan(0);
    }
  });
});

describe('start-up work left for later', () => {
  it('libphonenumber metadata is loaded at the first phone-like candidate, not when the engine is built', () => {
    const code = `
      const { createRequire } = await import('node:module');
      const cache = () => Object.keys(createRequire(import.meta.url).cache).filter((k) => k.includes('libphonenumber-js')).length;
      const { buildRedaction, DEFAULT_SETTINGS } = await import(${JSON.stringify(path.join(ROOT, 'dist/redact/setup.js'))});
      const r = buildRedaction(DEFAULT_SETTINGS);
      const before = cache();
      const clean = r.outbound.redactText('build 2026-11-23 finished in 41 s').text;
      const middle = cache();
      const found = r.outbound.redactText('call me on +44 20 7946 0958 tomorrow').text;
      process.stdout.write(JSON.stringify({ before, clean, middle, after: cache(), found }));
    `;
    const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', code], { cwd: ROOT, encoding: 'utf8' })) as { before: number; clean: string; middle: number; after: number; found: string };
    expect(out.before).toBe(0);
    expect(out.clean).toBe('build 2026-11-23 finished in 41 s');
    expect(out.middle).toBe(0);
    expect(out.after).toBeGreaterThan(0);
    expect(out.found).not.toContain('7946');
  });
});
