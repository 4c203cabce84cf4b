/**
 * Issue 9: policy bypass suite for names and encodings (paths and URLs have their own canary suite,
 * test/integration/policy-canary.test.ts). A rule that allows `read_file` on server `files` allows exactly that:
 * case changes, look-alike letters, invisible characters, whitespace, NUL, glob characters and prefixes of the name
 * do not match, and neither do look-alike server names or argument keys.
 */
import { describe, expect, it } from 'vitest';
import { evaluate, type PolicyInput } from '../../src/policy/evaluate.js';
import { composePolicy, parsePolicyText } from '../../src/policy/load.js';
import type { Policy } from '../../src/policy/types.js';
import type { Principal } from '../../src/pipeline/types.js';

/** A policy from one YAML text. */
const policyOf = (yaml: string): Policy => composePolicy([parsePolicyText(yaml, 'p.yaml')]);

const P = policyOf(
  `
version: 1
default: deny
rules:
  - id: read
    effect: allow
    servers: [files]
    tools: [read_file]
    args:
      path: { under: [/srv/data] }
  - id: fetch
    effect: allow
    servers: [web]
    tools: [fetch]
    args:
      url: { hosts: [api.example.com], schemes: [https] }
`,
);
const anyone: Principal = { sub: 'u', kind: 'oauth', scopes: [], claims: {} };
/** The effect, and the rule when one decided it ("deny no-etc"). */
const verdict = (policy: Policy, input: Omit<PolicyInput, 'principal'>): string => {
  const d = evaluate(policy, { principal: anyone, ...input });
  return d.rule ? `${d.effect} ${d.rule}` : d.effect;
};
const decide = (over: Partial<PolicyInput>) => evaluate(P, { server: 'files', method: 'tools/call', tool: 'read_file', args: { path: '/srv/data/a' }, principal: anyone, annotations: {}, ...over }).effect;

describe('names', () => {
  it('the exact name is allowed (control)', () => expect(decide({})).toBe('allow'));
  it.each([
    ['upper case', 'READ_FILE'],
    ['mixed case', 'Read_File'],
    ['Cyrillic a', 're\u0430d_file'],
    ['fullwidth', '\uff52\uff45\uff41\uff44_file'],
    ['zero-width space', 'read\u200b_file'],
    ['zero-width joiner at the end', 'read_file\u200d'],
    ['trailing space', 'read_file '],
    ['leading space', ' read_file'],
    ['NUL', 'read_file\u0000'],
    ['newline', 'read_file\n'],
    ['glob star', 'read_*'],
    ['prefix', 'read_fil'],
    ['suffix', 'read_file_and_delete'],
    ['namespace prefix', 'files__read_file'],
    ['dot segment', 'read_file/..'],
    ['right-to-left override', 'read_\u202efile'],
  ])('%s: %j is denied', (_label, tool) => expect(decide({ tool })).toBe('deny'));

  it.each([
    ['upper case', 'FILES'],
    ['look-alike', 'fi\u04cfes'],
    ['trailing space', 'files '],
    ['glob', 'file*'],
  ])('server %s: %j is denied', (_label, server) => expect(decide({ server })).toBe('deny'));
});

describe('argument keys and types', () => {
  it.each([
    ['key in another case', { PATH: '/srv/data/a' }],
    ['key with a zero-width space', { 'pa\u200bth': '/srv/data/a' }],
    ['path as an array', { path: ['/srv/data/a', '/etc/passwd'] }],
    ['path as an object', { path: { toString: '/srv/data/a' } }],
    ['path as a number', { path: 7 }],
    ['prototype key', JSON.parse('{"__proto__": {"path": "/srv/data/a"}}') as Record<string, unknown>],
    ['duplicate meaning: path plus an extra key', { path: '/etc/passwd', path_: '/srv/data/a' }],
  ])('%s is denied', (_label, args) => expect(decide({ args })).toBe('deny'));
});

describe('URL encodings', () => {
  const url = (u: string) => evaluate(P, { server: 'web', method: 'tools/call', tool: 'fetch', args: { url: u }, principal: anyone, annotations: {} }).effect;
  it('the allowed host over https (control)', () => expect(url('https://api.example.com/v1')).toBe('allow'));
  it('a percent-encoded spelling of the allowed host is that host (WHATWG URL parsing), so it is allowed', () => expect(url('https://api%2eexample%2ecom/')).toBe('allow'));
  it.each([
    'https://api.example.com.evil.test/',
    'https://api.example.com@evil.test/',
    'https://evil.test/?https://api.example.com',
    'https://evil.test#@api.example.com',
    'https://xn--api-example-com.test/',
    'https://API.EXAMPLE.COM.evil.test/',
    'http://api.example.com/',
    'HTTPS://evil.test/',
    'https://api.example.com\\@evil.test/',
    'https:/\\/evil.test/',
    'javascript:alert(1)//api.example.com',
    'https://api.example.com%00.evil.test/',
    '//api.example.com/',
  ])('%s is denied', (u) => expect(url(u)).toBe('deny'));
});

describe('resource URIs', () => {
  const R = policyOf(
    `
version: 1
default: deny
rules:
  - id: data
    effect: allow
    resources: ["file:///srv/data/**", "repo://acme/My%20Docs/*", "test://static-*"]
  - id: no-secrets
    effect: deny
    resources: ["file:///srv/data/secret/**"]
`,
  );
  const read = (uri: string) => {
    return verdict(R, { server: 'files', method: 'resources/read', resource: uri, args: { uri } });
  };
  it.each(['file:///srv/data/a.txt', 'file:///srv/data/sub/b.txt', 'repo://acme/My%20Docs/readme', 'test://static-text'])('%s is allowed (control)', (u) => expect(read(u)).toBe('allow data'));
  it('the secret folder is denied (control)', () => expect(read('file:///srv/data/secret/key')).toBe('deny no-secrets'));
  it.each([
    'file:///srv/data/../../etc/passwd',
    'file:///srv/data/%2e%2e/%2e%2e/etc/passwd',
    'file:///srv/data/%2E%2E/%2E%2E/etc/passwd',
    'file:///srv/data/%252e%252e/%252e%252e/etc/passwd',
    'file:///srv/data/..%2F..%2Fetc/passwd',
    'file:///srv/data/..\\..\\etc\\passwd',
    'file:///srv/data／..／..／etc／passwd',
    'file:///srv/data/a%00.txt',
    'repo://acme/My%20Docs/../../other/x',
  ])('%s cannot step out of an allow glob', (u) => expect(read(u).startsWith('deny')).toBe(true));
  it.each([
    'file:///srv/data/x/../secret/key',
    'file:///srv/data/./secret/key',
    'file:///srv/data//secret/key',
    'file:///srv/data/%73ecret/key',
    'file:///srv/data/secret%2Fkey',
    'file:///srv/data/Secret/key',
    'FILE:///srv/data/secret/key',
    'file://localhost/srv/data/secret/key',
    'file://LOCALHOST/srv/data/secret/key',
  ])('%s cannot step around a deny glob', (u) => expect(read(u)).toBe('deny no-secrets'));
  it('a deny of one file is not stepped around with a query or a fragment', () => {
    const F = policyOf('version: 1\ndefault: allow\nrules:\n  - { id: no-env, effect: deny, resources: ["file:///srv/app/.env"] }\n');
    const r = (uri: string) => evaluate(F, { server: 's', method: 'resources/read', resource: uri, args: { uri }, principal: anyone }).effect;
    expect(r('file:///srv/app/readme')).toBe('allow');
    for (const u of ['file:///srv/app/.env', 'file:///srv/app/.env?raw=1', 'file:///srv/app/.env#top', 'file:///srv/app/.env?']) expect(r(u), u).toBe('deny');
  });
});

describe('one_of on a deny rule', () => {
  const D = policyOf(
    `
version: 1
default: deny
rules:
  - id: admin
    effect: allow
    tools: [admin]
  - id: no-delete
    effect: deny
    tools: [admin]
    args:
      action: { one_of: [delete, purge, 9] }
`,
  );
  const run = (args: Record<string, unknown>) => {
    return verdict(D, { server: 's', method: 'tools/call', tool: 'admin', args, annotations: {} });
  };
  it('another action is allowed, the listed one denied (control)', () => {
    expect(run({ action: 'list' })).toBe('allow admin');
    expect(run({ action: 'delete' })).toBe('deny no-delete');
  });
  it.each([
    ['upper case', 'Delete'],
    ['spaces', ' delete '],
    ['a zero-width space', 'del\u200bete'],
    ['a soft hyphen', 'pur\u00adge'],
    ['fullwidth letters', 'ｄｅｌｅｔｅ'],
    ['a trailing newline', 'purge\n'],
  ])('%s around a denied value is still denied', (_label, action) => expect(run({ action })).toBe('deny no-delete'));
  it('a number sent as text is still denied', () => expect(run({ action: '9' })).toBe('deny no-delete'));
  it('the reason says which value it could be read as', () => {
    const d = evaluate(D, { server: 's', method: 'tools/call', tool: 'admin', args: { action: 'DELETE' }, principal: anyone, annotations: {} });
    expect(d.reason).toContain('`action` is "DELETE", which is not "delete" but could be read as it');
  });
});

describe('a deny rule over a list of values', () => {
  const L = policyOf(
    `
version: 1
default: deny
rules:
  - id: read
    effect: allow
    tools: [read_multiple_files]
    args:
      paths[*]: { under: [/srv, /etc] }
  - id: no-etc
    effect: deny
    tools: [read_multiple_files]
    args:
      paths[*]: { under: [/etc] }
  - id: review-home
    effect: ask
    tools: [read_multiple_files]
    args:
      paths[*]: { under: [/srv/home] }
`,
  );
  const run = (paths: unknown) => {
    return verdict(L, { server: 's', method: 'tools/call', tool: 'read_multiple_files', args: { paths }, annotations: {} });
  };
  it('paths all inside the allowed folders and none denied are allowed (control)', () => expect(run(['/srv/a', '/srv/b'])).toBe('allow read'));
  it.each([
    [['/etc/passwd']],
    [['/srv/a', '/etc/passwd']],
    [['/srv/a', '/srv/b', '/srv/c', '/etc/shadow']],
    [['/srv/a', '/srv/../etc/passwd']],
  ])('%j: one denied path among harmless ones is denied', (paths) => expect(run(paths)).toBe('deny no-etc'));
  it('one path under review asks, whatever sits beside it', () => expect(run(['/srv/a', '/srv/home/x'])).toBe('ask review-home'));
  it('an element that cannot be pinned down holds for the deny', () => expect(run(['/srv/a', 'relative/path'])).toBe('deny no-etc'));
  it('an empty list reads nothing: no deny applies, and the allow holds', () => expect(run([])).toBe('allow read'));
});
