/**
 * Issue 3, done-when 1: table-driven tests of evaluate — precedence, can't-decide, every constraint, principals,
 * annotations, shadow mode and visibility.
 */
import { describe, expect, it } from 'vitest';
import { evaluate, visible, type PolicyInput } from '../../src/policy/evaluate.js';
import { composePolicy, parsePolicyText } from '../../src/policy/load.js';
import type { Policy } from '../../src/policy/types.js';
import type { Principal } from '../../src/pipeline/types.js';

function policy(...docs: string[]): Policy {
  return composePolicy(docs.map((d, i) => parsePolicyText(d, `p${i}.yaml`)));
}

const alice: Principal = { sub: 'auth0|alice', kind: 'oauth', issuer: 'https://idp', scopes: ['files:read', 'mail:send'], claims: { groups: ['eng', 'ops'], tier: 'gold', email_verified: true } };
const bob: Principal = { sub: 'auth0|bob', kind: 'oauth', issuer: 'https://idp', scopes: [], claims: {} };
const overage: Principal = { sub: 'entra|carol', kind: 'oauth', scopes: [], claims: { _claim_names: { groups: 'src1' }, _claim_sources: {} } };
const local: Principal = { sub: 'local:dev', kind: 'local', scopes: [], claims: {} };

const P = policy(`
version: 1
default: deny
rules:
  - id: fs-read
    effect: allow
    servers: [files]
    tools: [read_*, list_directory]
    args:
      path: { under: [/srv/data] }
  - id: fs-many
    effect: allow
    servers: [files]
    tools: [read_multiple_files]
    args:
      paths[*]: { under: [/srv/data] }
  - id: fs-move
    effect: allow
    servers: [files]
    tools: [move_file]
    args:
      source: { under: [/srv/data/inbox] }
      destination: { under: [/srv/data/archive] }
  - id: fs-secrets
    effect: deny
    servers: [files]
    tools: [read_file, read_text_file, read_media_file, list_directory]
    args:
      path: { under: [/srv/data/secrets] }
  - id: web
    effect: allow
    tools: [fetch]
    args:
      url: { hosts: [api.github.com, "*.example.com", "bücher.de"], schemes: [https] }
  - id: sql
    effect: allow
    tools: [query]
    args:
      sql: { pattern: "^SELECT\\\\b", max_length: 40 }
  - id: mode
    effect: allow
    tools: [set_mode]
    args:
      mode: { one_of: [read, list] }
  - id: limit
    effect: allow
    tools: [page]
    args:
      limit: { min: 1, max: 100 }
      cursor: { required: false }
  - id: nested
    effect: allow
    tools: [deploy]
    args:
      target.env: { one_of: [staging] }
      target.regions[*]: { one_of: [eu-west, eu-north] }
  - id: confirm-needed
    effect: allow
    tools: [nuke]
    args:
      confirm: { required: true, one_of: [true] }
  - id: mail-ask
    effect: ask
    tools: [send_mail]
  - id: mail-allow
    effect: allow
    tools: [send_mail, draft_mail]
    principal: { scopes: [mail:send] }
  - id: admin
    effect: allow
    tools: [admin_*]
    principal: { claims: { groups: [ops] } }
  - id: contractors-no-delete
    effect: deny
    tools: [delete_*]
    principal: { claims: { groups: [contractors] } }
  - id: delete
    effect: allow
    tools: [delete_*]
  - id: sub-only
    effect: allow
    tools: [whoami]
    principal: { sub: ["auth0|ali*"] }
  - id: local-only
    effect: allow
    tools: [shell]
    principal: { kind: local }
  - id: ro-only
    effect: allow
    servers: [gh]
    tools: ["*"]
    annotations: { readOnlyHint: true }
  - id: no-destructive
    effect: deny
    servers: [gh2]
    tools: ["*"]
    annotations: { destructiveHint: true }
  - id: gh2-rest
    effect: allow
    servers: [gh2]
  - id: hidden-scope
    effect: allow
    tools: [billing]
    principal: { scopes: [billing:read] }
    hidden: true
  - id: res
    effect: allow
    resources: ["file:///srv/docs/*", "db://main/**"]
  - id: prompt
    effect: allow
    prompts: [summarise]
  - id: no-sampling
    effect: deny
    methods: [sampling/createMessage]
  - id: no-url-elicit
    effect: deny
    methods: [elicitation/create]
    args:
      mode: { one_of: [url], required: true }
  - id: elicit
    effect: allow
    methods: [elicitation/create]
`);

type Row = [name: string, input: Partial<PolicyInput>, effect: 'allow' | 'deny' | 'ask', rule?: string | null];

const call = (server: string, tool: string, args: unknown, principal: Principal = alice, annotations?: Record<string, unknown>): Partial<PolicyInput> => ({ server, method: 'tools/call', tool, args, principal, annotations });

const rows: Row[] = [
  // paths: allow inside, deny outside, can't decide on anything odd
  ['read inside', call('files', 'read_file', { path: '/srv/data/a.txt' }), 'allow', 'fs-read'],
  ['read the directory itself', call('files', 'list_directory', { path: '/srv/data' }), 'allow', 'fs-read'],
  ['read nested', call('files', 'read_file', { path: '/srv/data/x/y/z.txt' }), 'allow', 'fs-read'],
  ['read with ./ and //', call('files', 'read_file', { path: '/srv/data/./x//y.txt' }), 'allow', 'fs-read'],
  ['read with a trailing slash', call('files', 'list_directory', { path: '/srv/data/x/' }), 'allow', 'fs-read'],
  ['.. that stays inside', call('files', 'read_file', { path: '/srv/data/x/../y.txt' }), 'allow', 'fs-read'],
  ['.. that leaves', call('files', 'read_file', { path: '/srv/data/../etc/passwd' }), 'deny', 'fs-read'],
  ['absolute elsewhere', call('files', 'read_file', { path: '/etc/passwd' }), 'deny', 'fs-read'],
  ['prefix sibling', call('files', 'read_file', { path: '/srv/data-evil/x' }), 'deny', 'fs-read'],
  ['percent-encoded dots', call('files', 'read_file', { path: '/srv/data/%2e%2e/etc/passwd' }), 'deny', 'fs-read'],
  ['double-encoded dots', call('files', 'read_file', { path: '/srv/data/%252e%252e/etc/passwd' }), 'deny', 'fs-read'],
  ['encoded slash', call('files', 'read_file', { path: '/srv/data/..%2fetc%2fpasswd' }), 'deny', 'fs-read'],
  ['harmless percent stays allowed', call('files', 'read_file', { path: '/srv/data/100%25.txt' }), 'allow', 'fs-read'],
  ['backslash traversal', call('files', 'read_file', { path: '/srv/data\\..\\etc\\passwd' }), 'deny', 'fs-read'],
  ['fullwidth solidus', call('files', 'read_file', { path: '/srv/data／..／etc' }), 'deny', 'fs-read'],
  ['fullwidth dots', call('files', 'read_file', { path: '/srv/data/．．/etc' }), 'deny', 'fs-read'],
  ['NUL', call('files', 'read_file', { path: '/srv/data/a\u0000/../../etc' }), 'deny', 'fs-secrets'],
  ['newline', call('files', 'read_file', { path: '/srv/data/a\n' }), 'deny', 'fs-secrets'],
  ['relative', call('files', 'read_file', { path: 'data/a.txt' }), 'deny', 'fs-secrets'],
  ['dot-relative', call('files', 'read_file', { path: './a.txt' }), 'deny', 'fs-secrets'],
  ['home', call('files', 'read_file', { path: '~/a.txt' }), 'deny', 'fs-secrets'],
  ['windows drive', call('files', 'read_file', { path: 'C:\\srv\\data\\a' }), 'deny', 'fs-read'],
  ['UNC', call('files', 'read_file', { path: '//server/share/a' }), 'deny', 'fs-secrets'],
  ['case variant (case-folding FS)', call('files', 'read_file', { path: '/SRV/DATA/a.txt' }), 'deny', 'fs-read'],
  ['file URI inside', call('files', 'read_file', { path: 'file:///srv/data/a.txt' }), 'allow', 'fs-read'],
  ['file URI outside', call('files', 'read_file', { path: 'file:///etc/passwd' }), 'deny', 'fs-read'],
  ['file URI on another host', call('files', 'read_file', { path: 'file://evil/srv/data/a' }), 'deny', 'fs-secrets'],
  ['overlong', call('files', 'read_file', { path: `/srv/data/${'a'.repeat(5000)}` }), 'deny', 'fs-secrets'],
  ['missing path', call('files', 'read_file', {}), 'deny', 'fs-secrets'],
  ['path is a number', call('files', 'read_file', { path: 42 }), 'deny', 'fs-secrets'],
  ['path is an array', call('files', 'read_file', { path: ['/srv/data/a'] }), 'deny', 'fs-secrets'],
  ['args not an object', call('files', 'read_file', 'path=/srv/data/a'), 'deny', 'fs-secrets'],
  // deny rule beats allow, and applies when it cannot decide
  ['deny inside secrets', call('files', 'read_file', { path: '/srv/data/secrets/key' }), 'deny', 'fs-secrets'],
  ['deny secrets through ..', call('files', 'read_file', { path: '/srv/data/x/../secrets/key' }), 'deny', 'fs-secrets'],
  ['deny secrets in another case (could be the same dir)', call('files', 'read_file', { path: '/srv/data/SECRETS/key' }), 'deny', 'fs-secrets'],
  ['deny when the path cannot be read', call('files', 'read_file', { path: 7 }), 'deny', 'fs-secrets'],
  ['deny applies to a tool it names that lacks the argument (missing = cannot decide)', call('files', 'read_media_file', {}), 'deny', 'fs-secrets'],
  ['deny does not reach tools it does not name', call('files', 'list_allowed_directories', {}), 'deny', null],
  // arrays
  ['all elements inside', call('files', 'read_multiple_files', { paths: ['/srv/data/a', '/srv/data/b'] }), 'allow', 'fs-many'],
  ['one element outside', call('files', 'read_multiple_files', { paths: ['/srv/data/a', '/etc/passwd'] }), 'deny'],
  ['one element ambiguous', call('files', 'read_multiple_files', { paths: ['/srv/data/a', 'b'] }), 'deny'],
  ['empty list (nothing read)', call('files', 'read_multiple_files', { paths: [] }), 'allow', 'fs-many'],
  ['not a list', call('files', 'read_multiple_files', { paths: '/srv/data/a' }), 'deny'],
  // two path arguments
  ['move within the rules', call('files', 'move_file', { source: '/srv/data/inbox/a', destination: '/srv/data/archive/a' }), 'allow', 'fs-move'],
  ['move out of the archive', call('files', 'move_file', { source: '/srv/data/archive/a', destination: '/srv/data/inbox/a' }), 'deny', 'fs-move'],
  ['move with one side missing', call('files', 'move_file', { source: '/srv/data/inbox/a' }), 'deny', 'fs-move'],
  // URLs
  ['url allowed', call('web', 'fetch', { url: 'https://api.github.com/repos' }), 'allow', 'web'],
  ['url subdomain glob', call('web', 'fetch', { url: 'https://docs.example.com/x' }), 'allow', 'web'],
  ['url glob does not match the apex', call('web', 'fetch', { url: 'https://example.com/x' }), 'deny', 'web'],
  ['url other host', call('web', 'fetch', { url: 'https://evil.example.net/' }), 'deny', 'web'],
  ['url host suffix trick', call('web', 'fetch', { url: 'https://api.github.com.evil.net/' }), 'deny', 'web'],
  ['url wrong scheme', call('web', 'fetch', { url: 'http://api.github.com/' }), 'deny', 'web'],
  ['url userinfo', call('web', 'fetch', { url: 'https://api.github.com@evil.net/' }), 'deny', 'web'],
  ['url userinfo with password', call('web', 'fetch', { url: 'https://api.github.com:x@evil.net/' }), 'deny', 'web'],
  ['url trailing dot', call('web', 'fetch', { url: 'https://api.github.com./x' }), 'allow', 'web'],
  ['url uppercase host', call('web', 'fetch', { url: 'https://API.GITHUB.COM/x' }), 'allow', 'web'],
  ['url IDN allowed', call('web', 'fetch', { url: 'https://bücher.de/' }), 'allow', 'web'],
  ['url IDN as punycode', call('web', 'fetch', { url: 'https://xn--bcher-kva.de/' }), 'allow', 'web'],
  ['url confusable host', call('web', 'fetch', { url: 'https://аpi.github.com/' }), 'deny', 'web'],
  ['url decimal IPv4', call('web', 'fetch', { url: 'https://2130706433/' }), 'deny', 'web'],
  ['url backslash', call('web', 'fetch', { url: 'https://api.github.com\\@evil.net/' }), 'deny', 'web'],
  ['url whitespace', call('web', 'fetch', { url: ' https://api.github.com/' }), 'deny', 'web'],
  ['url scheme-relative', call('web', 'fetch', { url: '//api.github.com/' }), 'deny', 'web'],
  ['url not a url', call('web', 'fetch', { url: 'api.github.com' }), 'deny', 'web'],
  ['url javascript', call('web', 'fetch', { url: 'javascript:alert(1)' }), 'deny', 'web'],
  ['url missing', call('web', 'fetch', {}), 'deny', 'web'],
  // pattern and length
  ['pattern ok', call('db', 'query', { sql: 'SELECT 1' }), 'allow', 'sql'],
  ['pattern fails', call('db', 'query', { sql: 'DELETE FROM t' }), 'deny', 'sql'],
  ['pattern anchored', call('db', 'query', { sql: ' SELECT 1' }), 'deny', 'sql'],
  ['pattern word boundary', call('db', 'query', { sql: 'SELECTX' }), 'deny', 'sql'],
  ['too long', call('db', 'query', { sql: `SELECT ${'x'.repeat(40)}` }), 'deny', 'sql'],
  ['pattern on a non-string', call('db', 'query', { sql: { text: 'SELECT 1' } }), 'deny', 'sql'],
  // one_of
  ['one_of ok', call('s', 'set_mode', { mode: 'read' }), 'allow', 'mode'],
  ['one_of other', call('s', 'set_mode', { mode: 'write' }), 'deny', 'mode'],
  ['one_of case', call('s', 'set_mode', { mode: 'READ' }), 'deny', 'mode'],
  ['one_of object', call('s', 'set_mode', { mode: { v: 'read' } }), 'deny', 'mode'],
  // min / max / required false
  ['min max ok', call('s', 'page', { limit: 50 }), 'allow', 'limit'],
  ['at min', call('s', 'page', { limit: 1 }), 'allow', 'limit'],
  ['below min', call('s', 'page', { limit: 0 }), 'deny', 'limit'],
  ['above max', call('s', 'page', { limit: 101 }), 'deny', 'limit'],
  ['numeric string', call('s', 'page', { limit: '50' }), 'deny', 'limit'],
  ['NaN-like', call('s', 'page', { limit: null }), 'deny', 'limit'],
  ['forbidden argument present', call('s', 'page', { limit: 5, cursor: 'x' }), 'deny', 'limit'],
  // nested selectors
  ['nested ok', call('s', 'deploy', { target: { env: 'staging', regions: ['eu-west'] } }), 'allow', 'nested'],
  ['nested wrong env', call('s', 'deploy', { target: { env: 'prod', regions: ['eu-west'] } }), 'deny', 'nested'],
  ['nested one region wrong', call('s', 'deploy', { target: { env: 'staging', regions: ['eu-west', 'us-east'] } }), 'deny', 'nested'],
  ['nested target not an object', call('s', 'deploy', { target: 'staging' }), 'deny', 'nested'],
  // required true
  ['required present', call('s', 'nuke', { confirm: true }), 'allow', 'confirm-needed'],
  ['required absent', call('s', 'nuke', {}), 'deny', 'confirm-needed'],
  ['required but false', call('s', 'nuke', { confirm: false }), 'deny', 'confirm-needed'],
  // precedence: ask beats allow
  ['ask beats allow', call('m', 'send_mail', {}), 'ask', 'mail-ask'],
  ['allow with scope', call('m', 'draft_mail', {}), 'allow', 'mail-allow'],
  // principals
  ['scope missing', call('m', 'draft_mail', {}, bob), 'deny', 'mail-allow'],
  ['claims any-of', call('x', 'admin_panel', {}), 'allow', 'admin'],
  ['claims absent', call('x', 'admin_panel', {}, bob), 'deny'],
  ['claims overage does not satisfy an allow', call('x', 'admin_panel', {}, overage), 'deny'],
  ['claims overage satisfies a deny', call('x', 'delete_repo', {}, overage), 'deny', 'contractors-no-delete'],
  ['claims absent satisfies a deny', call('x', 'delete_repo', {}, bob), 'deny', 'contractors-no-delete'],
  ['claims present and not matching lets the allow through', call('x', 'delete_repo', {}), 'allow', 'delete'],
  ['sub glob', call('x', 'whoami', {}), 'allow', 'sub-only'],
  ['sub other', call('x', 'whoami', {}, bob), 'deny'],
  ['kind local', call('x', 'shell', {}, local), 'allow', 'local-only'],
  ['kind oauth', call('x', 'shell', {}), 'deny'],
  // annotations only narrow
  ['annotation read-only', call('gh', 'get_issue', {}, alice, { readOnlyHint: true }), 'allow', 'ro-only'],
  ['annotation not read-only', call('gh', 'create_issue', {}, alice, { readOnlyHint: false }), 'deny'],
  ['annotation absent = default false', call('gh', 'create_issue', {}, alice, {}), 'deny'],
  ['annotations unknown', call('gh', 'get_issue', {}, alice, undefined), 'deny'],
  ['destructive default true', call('gh2', 'anything', {}, alice, {}), 'deny', 'no-destructive'],
  ['destructive false', call('gh2', 'anything', {}, alice, { destructiveHint: false }), 'allow', 'gh2-rest'],
  ['destructive unknown denies', call('gh2', 'anything', {}, alice, undefined), 'deny', 'no-destructive'],
  // resources and prompts
  ['resource in a segment', { server: 'd', method: 'resources/read', resource: 'file:///srv/docs/a.md', principal: alice }, 'allow', 'res'],
  ['resource deeper than *', { server: 'd', method: 'resources/read', resource: 'file:///srv/docs/x/a.md', principal: alice }, 'deny'],
  ['resource **', { server: 'd', method: 'resources/read', resource: 'db://main/t/1/x', principal: alice }, 'allow', 'res'],
  ['resource other', { server: 'd', method: 'resources/read', resource: 'file:///etc/passwd', principal: alice }, 'deny'],
  ['prompt', { server: 'd', method: 'prompts/get', prompt: 'summarise', principal: alice }, 'allow', 'prompt'],
  ['prompt other', { server: 'd', method: 'prompts/get', prompt: 'jailbreak', principal: alice }, 'deny'],
  // tool names are exact
  ['tool name exact', call('files', 'list_directory ', { path: '/srv/data/a' }), 'deny', null],
  ['a glob is a glob', call('files', 'read_anything', { path: '/srv/data/a' }), 'allow', 'fs-read'],
  ['tool name homoglyph', call('files', 'rеad_file', { path: '/srv/data/a' }), 'deny'],
  // server-initiated
  ['sampling denied', { server: 'any', method: 'sampling/createMessage', args: { messages: [] }, principal: local }, 'deny', 'no-sampling'],
  ['url elicitation denied', { server: 'any', method: 'elicitation/create', args: { mode: 'url', url: 'https://x' }, principal: local }, 'deny', 'no-url-elicit'],
  ['form elicitation allowed', { server: 'any', method: 'elicitation/create', args: { mode: 'form', message: 'hi' }, principal: local }, 'allow', 'elicit'],
  ['elicitation without mode is form', { server: 'any', method: 'elicitation/create', args: { message: 'hi' }, principal: local }, 'allow', 'elicit'],
  // default
  ['nothing applies', call('zzz', 'unknown_tool', {}), 'deny', null],
  ['schema says the arguments are invalid', { ...call('files', 'read_file', { path: '/srv/data/a' }), argsValid: false, argsProblem: '/path must be string' }, 'deny', 'fs-secrets'],
];

describe('evaluate', () => {
  it(`has at least 100 cases (${rows.length})`, () => expect(rows.length).toBeGreaterThanOrEqual(100));
  it.each(rows)('%s', (_name, input, effect, rule) => {
    const d = evaluate(P, { server: 's', method: 'tools/call', principal: alice, ...input } as PolicyInput);
    expect(d.effect).toBe(effect);
    if (rule !== undefined) expect(d.rule ?? null).toBe(rule);
    expect(d.reason.length).toBeGreaterThan(10);
  });

  it('explains a refused argument in a way the model can act on', () => {
    const d = evaluate(P, call('files', 'read_file', { path: '/etc/passwd' }) as PolicyInput);
    expect(d.reason).toBe('tool "read_file" is not allowed with these arguments: `path` must be under /srv/data (got "/etc/passwd") (rule fs-read)');
    expect(evaluate(P, call('m', 'draft_mail', {}, bob) as PolicyInput)).toMatchObject({ missingScopes: ['mail:send'] });
  });
});

describe('policy files do not expand ${ENV}', () => {
  it('a ${VAR} in a rule is the text the file says, whatever the environment of the process that loads it', () => {
    const saved = { root: process.env['MCPW_TEST_ROOT'], unset: process.env['MCPW_TEST_UNSET'] };
    process.env['MCPW_TEST_ROOT'] = '/';
    delete process.env['MCPW_TEST_UNSET'];
    try {
      const doc = 'version: 1\ndefault: deny\nrules:\n  - id: under-var\n    effect: allow\n    tools: [read_file]\n    args:\n      path: { under: ["/srv/${MCPW_TEST_ROOT}"] }\n  - id: literal\n    effect: allow\n    tools: ["${MCPW_TEST_UNSET}"]\n';
      // With the environment read, under: became "/srv//" (all of /srv) and an unset variable refused the whole file.
      const p = policy(doc);
      expect(p.rules.map((r) => r.args?.['path'] ?? r.tools)).toEqual([{ under: ['/srv/${MCPW_TEST_ROOT}'] }, ['${MCPW_TEST_UNSET}']]);
      expect(evaluate(p, call('files', 'read_file', { path: '/srv/x' }) as PolicyInput).effect).toBe('deny');
      expect(evaluate(p, call('files', '${MCPW_TEST_UNSET}', {}) as PolicyInput)).toMatchObject({ effect: 'allow', rule: 'literal' });
    } finally {
      if (saved.root === undefined) delete process.env['MCPW_TEST_ROOT'];
      else process.env['MCPW_TEST_ROOT'] = saved.root;
      if (saved.unset !== undefined) process.env['MCPW_TEST_UNSET'] = saved.unset;
    }
  });
});

describe('precedence and defaults', () => {
  const doc = (d: string, rules: string) => `version: 1\n${d}rules:\n${rules}`;
  it('deny > ask > allow, in any order', () => {
    const p = policy(doc('default: allow\n', '  - {id: a, effect: allow, tools: [t]}\n  - {id: k, effect: ask, tools: [t]}\n  - {id: d, effect: deny, tools: [t]}\n'));
    expect(evaluate(p, { server: 's', method: 'tools/call', tool: 't', principal: local })).toMatchObject({ effect: 'deny', rule: 'd' });
    const q = policy(doc('default: deny\n', '  - {id: a, effect: allow, tools: [t]}\n  - {id: k, effect: ask, tools: [t]}\n'));
    expect(evaluate(q, { server: 's', method: 'tools/call', tool: 't', principal: local })).toMatchObject({ effect: 'ask', rule: 'k' });
  });
  it('default deny wins when files disagree; no enforcing default means deny', () => {
    const p = policy(doc('default: allow\n', '  []\n').replace('rules:\n  []', 'rules: []'), doc('default: deny\n', '  []\n').replace('rules:\n  []', 'rules: []'));
    expect(p.default).toBe('deny');
    expect(policy('version: 1\nrules: []\n').default).toBe('deny');
  });
  it('shadow files are evaluated, never enforced', () => {
    const p = policy('version: 1\ndefault: allow\nrules: []\n', 'version: 1\nmode: shadow\nrules:\n  - {id: would-deny, effect: deny, tools: [t]}\n');
    const d = evaluate(p, { server: 's', method: 'tools/call', tool: 't', principal: local });
    expect(d).toMatchObject({ effect: 'allow', shadow: { effect: 'deny', rule: 'would-deny' } });
    const onlyShadow = policy('version: 1\nmode: shadow\ndefault: deny\nrules: []\n');
    expect(evaluate(onlyShadow, { server: 's', method: 'tools/call', tool: 'x', principal: local })).toMatchObject({ effect: 'allow', shadow: { effect: 'deny' } });
  });
});

describe('visibility (what lists show)', () => {
  const v = (tool: string, principal: Principal = alice, server = 'files', annotations: Record<string, unknown> = {}) => visible(P, { server, method: 'tools/call', tool, principal, annotations });
  it('shows tools some arguments could use', () => expect(v('read_file')).toBe(true));
  it('hides tools no rule allows under default deny', () => expect(v('write_file')).toBe(false));
  it('shows a tool that needs a scope the caller lacks (step-up)', () => expect(v('draft_mail', bob, 'm')).toBe(true));
  it('hides it when the rule says hidden', () => {
    expect(visible(P, { server: 'b', method: 'tools/call', tool: 'billing', principal: bob })).toBe(false);
    expect(visible(P, { server: 'b', method: 'tools/call', tool: 'billing', principal: { ...bob, scopes: ['billing:read'] } })).toBe(true);
  });
  it('hides a tool an unconditional deny matches, and when a deny cannot decide', () => {
    expect(v('delete_repo', { ...alice, claims: { groups: ['contractors'] } }, 'x')).toBe(false);
    expect(v('delete_repo', overage, 'x')).toBe(false);
    expect(v('anything', alice, 'gh2', { destructiveHint: false })).toBe(true);
    expect(v('anything', alice, 'gh2', {})).toBe(false);
  });
});
