/**
 * The `redaction:` section of the config → the detectors and redactors the stage, the audit capture and the
 * `redact` command use. Unknown rule ids in `actions`, `enable` or `disable` are errors (a typo must not leave a
 * detector off silently).
 */
import path from 'node:path';
import { statSync } from 'node:fs';
import { isMap, isPair, isScalar, isSeq } from 'yaml';
import type { WardenConfig } from '../config/config.js';
import { loadOrCreateRandomKey } from '../config/files.js';
import { configPath, stateDir } from '../config/paths.js';
import { readYamlFile, lineOf } from '../config/yaml.js';
import { Detector } from './detector.js';
import { Redactor } from './redactor.js';
import { BUNDLED_PACKS, bundledPackFile, compileUserRules, loadPackFile, RedactionRuleError, type Action, type Pack, type Rule, type RuleSpec } from './rules.js';

export interface RedactionSettings {
  packs: string[];
  action: Action;
  inbound: 'detect' | 'mask' | 'block';
  /**
   * The client's answers to the server's questions (elicitation, sampling): in 2025 sessions as responses, in
   * 2026-07-28 as `inputResponses`. Undefined: `mask`, or `block` when `inbound` is block. MCP forbids a server to
   * ask for passwords or keys in a form, so a secret in an answer is one a server is fishing for.
   */
  answers: 'detect' | 'mask' | 'block' | undefined;
  actions: Record<string, Action>;
  enable: string[];
  disable: string[];
  rules: RuleSpec[];
  hashKey: string | undefined;
  maxFindings: number;
  /** Decode base64 inside text strings and scan what it holds (`redaction.decode_base64`). */
  decodeBase64: boolean;
}

export interface Redaction {
  detector: Detector;
  /** What flows to the client (and the model). */
  outbound: Redactor;
  /** Arguments flowing to the server. */
  inbound: Redactor;
  /** The client's answers to the server's requests. */
  answers: Redactor;
  inboundMode: RedactionSettings['inbound'];
  /** The outbound action of a rule. */
  actionOf(rule: Rule): Action;
  /** Masks everything it finds: for what the audit trail keeps. */
  masker: Redactor;
  rules: readonly Rule[];
  packs: string[];
}

export const DEFAULT_SETTINGS: RedactionSettings = {
  packs: [...BUNDLED_PACKS],
  action: 'mask',
  inbound: 'detect',
  answers: undefined,
  actions: {},
  enable: [],
  disable: [],
  rules: [],
  hashKey: undefined,
  maxFindings: 10_000,
  decodeBase64: false,
};

/** Settings from the config; undefined when redaction is off. */
export function redactionSettings(config: WardenConfig): RedactionSettings | undefined {
  const raw = config.raw['redaction'];
  if (raw === false) return undefined;
  const r = (raw ?? {}) as Record<string, unknown>;
  if (r['enabled'] === false) return undefined;
  return {
    packs: (r['packs'] as string[] | undefined) ?? DEFAULT_SETTINGS.packs,
    action: (r['action'] as Action | undefined) ?? 'mask',
    inbound: (r['inbound'] as RedactionSettings['inbound'] | undefined) ?? 'detect',
    answers: r['answers'] as RedactionSettings['answers'],
    actions: (r['actions'] as Record<string, Action> | undefined) ?? {},
    enable: (r['enable'] as string[] | undefined) ?? [],
    disable: (r['disable'] as string[] | undefined) ?? [],
    rules: (r['rules'] as RuleSpec[] | undefined) ?? [],
    hashKey: r['hash_key'] as string | undefined,
    maxFindings: (r['max_findings'] as number | undefined) ?? 10_000,
    decodeBase64: r['decode_base64'] === true,
  };
}

const packCache = new Map<string, { mtimeMs: number; pack: Pack }>();

/** Where a pack named in the config is: a bundled name, or a path relative to the config's folder. */
function packFile(nameOrPath: string, baseDir: string | undefined): { file: string; bundled: boolean } {
  const bundled = (BUNDLED_PACKS as readonly string[]).includes(nameOrPath);
  return { file: bundled ? bundledPackFile(nameOrPath) : configPath(nameOrPath, baseDir ?? process.cwd()), bundled };
}

/** The files of the packs in `settings` that are not bundled ones. */
export function packFiles(settings: RedactionSettings, baseDir: string | undefined): string[] {
  return settings.packs.map((p) => packFile(p, baseDir)).filter((p) => !p.bundled).map((p) => p.file);
}

/** A pack by bundled name or path; parsed once per file version. */
export function resolvePack(nameOrPath: string, baseDir: string | undefined): Pack {
  const { file, bundled: isName } = packFile(nameOrPath, baseDir);
  let mtimeMs = 0;
  try {
    mtimeMs = statSync(file).mtimeMs;
  } catch {
    throw new RedactionRuleError(isName ? `${file}: bundled pack missing` : `${file}: redaction pack not found (packs take the bundled names ${BUNDLED_PACKS.join(', ')} or a file path)`, file);
  }
  const hit = packCache.get(file);
  if (hit && hit.mtimeMs === mtimeMs) return hit.pack;
  const pack = loadPackFile(file);
  packCache.set(file, { mtimeMs, pack });
  return pack;
}

/** Line of `redaction.rules[i]` in the config file, for errors. */
function userRuleLine(configFile: string | undefined): (i: number) => number {
  if (!configFile) return () => 1;
  let loaded: ReturnType<typeof readYamlFile> | undefined;
  return (i) => {
    try {
      loaded ??= readYamlFile(configFile, null);
      const red = loaded.doc.get('redaction', true);
      if (isMap(red)) {
        const pair = red.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === 'rules');
        if (pair && isPair(pair) && isSeq(pair.value) && pair.value.items[i]) return lineOf(loaded, pair.value.items[i] as never);
      }
    } catch {
      /* the line is a courtesy */
    }
    return 1;
  };
}

export function buildRedaction(settings: RedactionSettings, configFile?: string): Redaction {
  const baseDir = configFile ? path.dirname(configFile) : undefined;
  const packs = settings.packs.map((p) => resolvePack(p, baseDir));
  const user = compileUserRules(settings.rules, configFile ?? '(config)', userRuleLine(configFile));
  const all = [...packs.flatMap((p) => p.rules), ...user];
  const ids = new Set(all.map((r) => r.id));
  const categories = new Set(all.map((r) => r.category));
  const where = configFile ?? '(config)';
  const problems: string[] = [];
  for (const id of [...settings.enable, ...settings.disable]) if (!ids.has(id)) problems.push(`${where}: redaction: no rule "${id}" in the packs in use`);
  for (const k of Object.keys(settings.actions)) if (!ids.has(k) && !categories.has(k)) problems.push(`${where}: redaction.actions: "${k}" is neither a rule id nor a category in use`);
  const dupes = user.filter((r) => packs.some((p) => p.rules.some((q) => q.id === r.id)));
  for (const d of dupes) problems.push(`${where}: redaction.rules: "${d.id}" is already a rule of a pack (use actions/disable to change it)`);
  if (problems.length) throw new RedactionRuleError(problems.join('\n'), configFile);
  const enable = new Set(settings.enable);
  const disable = new Set(settings.disable);
  const rules = all.map((r) => (enable.has(r.id) || disable.has(r.id) ? { ...r, enabled: enable.has(r.id) && !disable.has(r.id) } : r));
  const detector = new Detector(rules, { decodeBase64: settings.decodeBase64 });
  let key: Buffer | undefined;
  const hashKey = (): Buffer => {
    if (!key) {
      if (settings.hashKey) key = Buffer.from(settings.hashKey, 'base64');
      else key = loadOrCreateRandomKey(path.join(stateDir(), 'redaction-hash.key'));
    }
    return key;
  };
  const outboundAction = (r: Rule): Action => settings.actions[r.id] ?? settings.actions[r.category] ?? r.action ?? settings.action;
  const inboundAction = (r: Rule): Action => (outboundAction(r) === 'detect' ? 'detect' : settings.inbound);
  const answersMode = settings.answers ?? (settings.inbound === 'block' ? 'block' : 'mask');
  const answersAction = (r: Rule): Action => (outboundAction(r) === 'detect' ? 'detect' : answersMode);
  const mk = (actionOf: (r: Rule) => Action) => new Redactor(detector, { actionOf, hashKey, maxFindings: settings.maxFindings });
  return {
    detector,
    outbound: mk(outboundAction),
    inbound: mk(inboundAction),
    answers: mk(answersAction),
    inboundMode: settings.inbound,
    actionOf: outboundAction,
    masker: mk(() => 'mask'),
    rules: detector.rules,
    packs: packs.map((p) => p.name),
  };
}

export function redactionFromConfig(config: WardenConfig): Redaction | undefined {
  const s = redactionSettings(config);
  return s ? buildRedaction(s, config.file) : undefined;
}

/**
 * Masks secrets and personal data in text the proxy writes to its operational log on a server's behalf (its
 * stderr): with the configured detectors, or, when redaction is off, the bundled packs, built on first use so a
 * quiet server costs nothing. A line with more findings than the limit is withheld whole.
 */
export function secretScrubber(redaction: Redaction | undefined): (text: string) => string {
  let masker = redaction?.masker;
  return (text) => {
    masker ??= buildRedaction(DEFAULT_SETTINGS).masker;
    const box = { text };
    if (masker.redact(box).blocked) return '[line withheld: too many secrets or personal data to mask]';
    return box.text;
  };
}
