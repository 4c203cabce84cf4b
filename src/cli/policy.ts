/**
 * `mcp-warden policy check F... | test CASES.yaml | explain --tool NAME --args JSON [--principal JSON]`
 *
 * Exit codes: 0 ok; 1 an invalid policy (check) or a failing case (test); 2 bad usage or a file that cannot be
 * read, with a message naming the file, line and field.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { policyFiles } from '../assemble.js';
import { findConfig } from '../config/config.js';
import { readYamlFile, validateYaml } from '../config/yaml.js';
import { ConfigError, PolicyError, UsageError, WardenError } from '../errors.js';
import type { Principal } from '../pipeline/types.js';
import { visibleText } from '../protocol/escape.js';
import { parseFrame } from '../protocol/frame.js';
import { evaluate, traceRules, visible, type PolicyInput } from '../policy/evaluate.js';
import { writeOutput } from './stdout.js';
import { composePolicy, loadPolicyFiles, parsePolicyText } from '../policy/load.js';
import { checkArgs } from '../policy/input-schema.js';
import type { Policy } from '../policy/types.js';
import { configPath } from '../config/paths.js';

class ExitError extends WardenError {
  override readonly code = 'EXIT';
  constructor(message: string, readonly exit: number) {
    super(message);
  }
  override get exitCode(): number {
    return this.exit;
  }
}

function parseJson(flag: string, text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new UsageError(`${flag}: not JSON: ${(e as Error).message}`);
  }
}

/**
 * `explain`'s arguments, read as the proxy reads a call: arguments it refuses before any rule (two keys of one
 * object, or two that differ only in case) would otherwise be judged here as JSON.parse keeps them, the last one.
 */
function callArgs(text: string): unknown {
  const args = parseJson('--args', text);
  const refused = refusedArgs(text);
  if (refused) throw new UsageError(`--args: ${refused}`);
  return args;
}

/** Why the proxy would refuse a call carrying these arguments (JSON text) before any rule, or undefined. */
function refusedArgs(text: string): string | undefined {
  const parsed = parseFrame(`{"jsonrpc":"2.0","id":0,"method":"tools/call","params":{"arguments":${text}}}`, { maxDepth: 1000 });
  return parsed.ok ? undefined : `mcp-warden refuses a call with these arguments before any rule (${parsed.message})`;
}

/**
 * The principal a case or `explain` gives: strict, because a key that was silently ignored (`scp`, `groups` beside
 * `claims`, `scopes: "a b"` read as no scopes) made a case pass or fail for a reason nobody wrote.
 */
const PRINCIPAL_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    sub: { type: 'string' },
    kind: { enum: ['local', 'oauth', 'anonymous'] },
    issuer: { type: 'string' },
    client_id: { type: 'string' },
    scopes: { type: 'array', items: { type: 'string' } },
    scope: { type: 'string' },
    claims: { type: 'object' },
  },
} as const;

function principalOf(v: unknown): Principal {
  if (v === undefined) return { sub: 'local:user', kind: 'local', scopes: [], claims: {} };
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new UsageError('--principal must be a JSON object');
  const o = v as Record<string, unknown>;
  for (const [k, val] of Object.entries(o)) {
    const spec = (PRINCIPAL_SCHEMA.properties as Record<string, { type?: string; enum?: readonly string[]; items?: unknown }>)[k];
    if (!spec) throw new UsageError(`--principal: unknown key "${k}" (sub, kind, issuer, client_id, scopes, scope, claims; other claims go under claims)`);
    const ok = spec.enum ? spec.enum.includes(val as string) : spec.type === 'array' ? Array.isArray(val) && val.every((x) => typeof x === 'string') : spec.type === 'object' ? typeof val === 'object' && val !== null && !Array.isArray(val) : typeof val === spec.type;
    if (!ok) throw new UsageError(`--principal.${k}: must be ${spec.enum ? `one of ${spec.enum.join(', ')}` : spec.type === 'array' ? 'a list of strings' : spec.type === 'object' ? 'an object' : 'a string'}`);
  }
  return {
    sub: typeof o['sub'] === 'string' ? o['sub'] : 'local:user',
    kind: o['kind'] === 'oauth' || o['kind'] === 'anonymous' ? o['kind'] : o['issuer'] ? 'oauth' : 'local',
    issuer: typeof o['issuer'] === 'string' ? o['issuer'] : undefined,
    clientId: typeof o['client_id'] === 'string' ? o['client_id'] : undefined,
    scopes: Array.isArray(o['scopes']) ? (o['scopes'] as string[]) : typeof o['scope'] === 'string' ? o['scope'].split(' ') : [],
    claims: typeof o['claims'] === 'object' && o['claims'] !== null ? (o['claims'] as Record<string, unknown>) : {},
  };
}

function policyFor(files: string[] | undefined, configFile: string | undefined): Policy {
  if (files?.length) return loadPolicyFiles(files.map((f) => path.resolve(f)));
  const { config } = findConfig(configFile);
  return loadPolicyFiles(policyFiles(config).files);
}

const CASES_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['cases'],
  properties: {
    policy: { type: 'array', items: { type: 'string' } },
    cases: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['expect'],
        properties: {
          name: { type: 'string' },
          server: { type: 'string' },
          method: { type: 'string' },
          tool: { type: 'string' },
          resource: { type: 'string' },
          prompt: { type: 'string' },
          args: {},
          annotations: { type: 'object' },
          input_schema: { type: 'object' },
          principal: PRINCIPAL_SCHEMA,
          visible: { type: 'boolean' },
          expect: {
            oneOf: [
              { enum: ['allow', 'deny', 'ask'] },
              { type: 'object', additionalProperties: false, required: ['effect'], properties: { effect: { enum: ['allow', 'deny', 'ask'] }, rule: { type: ['string', 'null'] }, reason: { type: 'string' } } },
            ],
          },
        },
      },
    },
  },
};

interface Case {
  name?: string;
  server?: string;
  method?: string;
  tool?: string;
  resource?: string;
  prompt?: string;
  args?: unknown;
  annotations?: Record<string, unknown>;
  input_schema?: Record<string, unknown>;
  principal?: Record<string, unknown>;
  visible?: boolean;
  expect: 'allow' | 'deny' | 'ask' | { effect: 'allow' | 'deny' | 'ask'; rule?: string | null; reason?: string };
}

export function registerPolicy(program: Command): void {
  const policy = program.command('policy').description('check, test and explain policies');

  policy
    .command('check')
    .description('validate policy files (each error with file:line); exit 1 if any is invalid')
    .argument('<files...>')
    .action((files: string[]) => {
      const problems: string[] = [];
      const parsed = [];
      for (const f of files) {
        if (!existsSync(f)) throw new UsageError(`${f}: no such file`);
        try {
          const p = parsePolicyText(readFileSync(f, 'utf8'), f);
          parsed.push(p);
          process.stdout.write(`ok  ${f}: ${p.rules.length} rules${p.mode === 'shadow' ? ' (shadow)' : ''}${p.default ? `, default ${p.default}` : ''}\n`);
        } catch (e) {
          if (!(e instanceof ConfigError)) throw e;
          problems.push(e.message);
        }
      }
      if (!problems.length && parsed.length > 1) {
        try {
          const c = composePolicy(parsed);
          process.stdout.write(`ok  together: ${c.rules.length} rules, default ${c.default}, version ${c.version}\n`);
        } catch (e) {
          if (!(e instanceof PolicyError)) throw e;
          problems.push(e.message);
        }
      }
      if (problems.length) throw new ExitError(problems.join('\n'), 1);
    });

  policy
    .command('test')
    .description('run a YAML table of cases (principal, method, tool, args → expected decision and rule); exit 1 on a failure')
    .argument('<cases>')
    .option('--policy <file>', 'policy file (repeatable); default: the cases file’s `policy`, else the config’s', (v: string, p: string[] = []) => [...p, v])
    .option('--config <file>')
    .action((casesFile: string, o: { policy?: string[]; config?: string }) => {
      if (!existsSync(casesFile)) throw new UsageError(`${casesFile}: no such file`);
      // A case is the call as written: no ${ENV} (like the policy files it tests).
      const loaded = readYamlFile(casesFile, null);
      validateYaml(loaded, CASES_SCHEMA);
      const doc = loaded.value as { policy?: string[]; cases: Case[] };
      const files = o.policy ?? doc.policy?.map((f) => configPath(f, path.dirname(casesFile)));
      const pol = policyFor(files, o.config);
      let failed = 0;
      doc.cases.forEach((c, i) => {
        const principal = principalOf(c.principal);
        const input: PolicyInput = { server: c.server ?? 'server', method: c.method ?? (c.prompt !== undefined ? 'prompts/get' : c.resource !== undefined ? 'resources/read' : 'tools/call'), tool: c.tool, resource: c.resource, prompt: c.prompt, args: c.args, principal, annotations: c.annotations ?? {} };
        if (c.input_schema) {
          const v = checkArgs(c.input_schema, c.args ?? {});
          if (!v.valid) {
            input.argsValid = false;
            input.argsProblem = v.problem;
          }
        }
        // As the proxy reads the call: YAML refuses a key twice, but keys that differ only in case reach here.
        const refused = c.args === undefined ? undefined : refusedArgs(JSON.stringify(c.args));
        const d: ReturnType<typeof evaluate> = refused ? { effect: 'deny', rule: undefined, reason: refused, rules: [] } : evaluate(pol, input);
        const want = typeof c.expect === 'string' ? { effect: c.expect } : c.expect;
        const problems: string[] = [];
        if (d.effect !== want.effect) problems.push(`effect ${d.effect}, expected ${want.effect}`);
        if ('rule' in want && want.rule !== undefined && (d.rule ?? null) !== want.rule) problems.push(`rule ${d.rule ?? 'none'}, expected ${want.rule ?? 'none'}`);
        if ('reason' in want && want.reason !== undefined && !d.reason.includes(want.reason)) problems.push(`reason "${d.reason}" does not contain "${want.reason}"`);
        if (c.visible !== undefined && visible(pol, input) !== c.visible) problems.push(`visible ${!c.visible}, expected ${c.visible}`);
        const label = visibleText(c.name ?? `case ${i + 1}`);
        if (problems.length) {
          failed++;
          process.stdout.write(`FAIL ${label}: ${problems.join('; ')}\n     ${visibleText(d.reason)}\n`);
        } else process.stdout.write(`ok   ${label}: ${d.effect}${d.rule ? ` (${d.rule})` : ''}\n`);
      });
      process.stdout.write(`${doc.cases.length - failed} passed, ${failed} failed\n`);
      if (failed) throw new ExitError(`${failed} of ${doc.cases.length} policy cases failed`, 1);
    });

  policy
    .command('explain')
    .description('the decision for one call, and each rule’s verdict')
    .requiredOption('--tool <name>')
    .option('--args <json>', 'the arguments', '{}')
    .option('--principal <json>', 'e.g. {"sub":"auth0|42","scopes":["files:read"],"claims":{"groups":["eng"]}}')
    .option('--server <name>', 'server name', 'server')
    .option('--annotations <json>', 'the tool’s annotations')
    .option('--policy <file>', 'policy file (repeatable); default: the config’s', (v: string, p: string[] = []) => [...p, v])
    .option('--config <file>')
    .action((o: { tool: string; args: string; principal?: string; server: string; annotations?: string; policy?: string[]; config?: string }) => {
      const pol = policyFor(o.policy, o.config);
      const input: PolicyInput = {
        server: o.server,
        method: 'tools/call',
        tool: o.tool,
        args: callArgs(o.args),
        principal: principalOf(parseJson('--principal', o.principal)),
        annotations: (parseJson('--annotations', o.annotations) as Record<string, unknown> | undefined) ?? {},
      };
      const d = evaluate(pol, input);
      const out = process.stdout;
      out.write(`decision: ${d.effect}${d.rule ? ` (rule ${d.rule})` : ''}\n`);
      out.write(`reason:   ${visibleText(d.reason)}\n`);
      out.write(`listed:   ${visible(pol, input) ? 'yes' : 'no (hidden)'}\n`);
      if (d.missingScopes?.length) out.write(`step-up:  needs scope ${d.missingScopes.join(' ')}\n`);
      if (d.shadow) out.write(`shadow:   ${d.shadow.effect}${d.shadow.rule ? ` (rule ${d.shadow.rule})` : ''}: ${visibleText(d.shadow.reason)}\n`);
      out.write(`policy:   ${pol.files.join(', ')} (version ${pol.version}, default ${pol.default})\nrules:\n`);
      for (const t of traceRules(pol, input)) {
        out.write(`  ${t.applies ? '✔' : '·'} ${t.rule.id.padEnd(24)} ${t.rule.effect.padEnd(5)} ${t.result.padEnd(7)} ${visibleText(t.why || (t.applies ? 'applies' : ''))}  ${t.rule.file}:${t.rule.line}${t.rule.mode === 'shadow' ? ' [shadow]' : ''}\n`);
      }
    });

  policy
    .command('init')
    .description('draft a least-privilege policy from a manifest (tools/list result, server.json, MCPB, host config)')
    .requiredOption('--from <manifest>', 'the manifest to draft from (- for stdin)')
    .option('--server <name>', 'the server name the policy should name (default: the manifest\'s)')
    .option('--out <file>', 'write the policy here instead of stdout')
    .action(async (o: { from: string; server?: string; out?: string }) => {
      const { parseInput, LintInputError } = await import('../lint/inputs.js');
      const { lintParsed } = await import('../lint/run.js');
      const { draftPolicy, draftCounts } = await import('../lint/policy-draft.js');
      const { readInput, MAX_MANIFEST_BYTES } = await import('./input.js');
      const text = await readInput(o.from, MAX_MANIFEST_BYTES);
      let parsed;
      try {
        parsed = parseInput(o.from === '-' ? 'stdin' : o.from, text);
      } catch (e) {
        if (e instanceof LintInputError) throw new UsageError(e.message);
        throw e;
      }
      const result = lintParsed([parsed]);
      const draft = draftPolicy({ servers: result.servers, documents: result.documents }, result.findings, o.server ? () => o.server! : undefined);
      if (!draft.allow.length && !draft.ask.length && !draft.deny.length && !draft.leftOut) throw new UsageError(`${o.from}: no tools to draft a policy for`);
      if (o.out) {
        writeOutput(o.out, draft.yaml);
        process.stderr.write(`mcp-warden: policy draft written to ${o.out} (${draftCounts(draft)})\n`);
      } else process.stdout.write(draft.yaml);
    });
}
