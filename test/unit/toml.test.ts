/**
 * The TOML side of install and lint (Codex CLI's config.toml): the statement scanner finds every table and value with
 * its offsets and the path it sets, never a header or key written inside a string or a comment; an entry's command
 * and args are changed in place with everything else byte for byte; what cannot be changed in place says so.
 */
import { describe, expect, it } from 'vitest';
import { parseToml, TomlEditError, tomlLines, tomlSetEntry, tomlStatements, tomlString, TomlSyntaxError } from '../../src/config/toml.js';

const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

const DOC = `# Codex settings
model = "gpt-5"   # a comment with [mcp_servers.fake] and command = "no"
notes = """
[mcp_servers.not_a_table]
command = "not a value"
"""
lit = '''
[[also.not]]
'''
when = 1979-05-27 07:32:00Z

[mcp_servers.files]
command = "npx"   # the filesystem server
args = [
  "-y",   # yes
  "@modelcontextprotocol/server-filesystem",
  '/home/ada/src', [1, 2], { a = "]" },
]
env = { "API_TOKEN" = "x", nested = { deep = [1, "}"] } }

[mcp_servers."with space".env]
A = "b"

[[profiles]]
name = "one"
[[profiles]]
name = "two"
[profiles.extra]
k = 1

[mcp_servers]
dotted.command = "node"
'quoted key'.command = 'python'
`;

describe('tomlStatements', () => {
  it('finds each table and value with the path it sets, and nothing written inside strings or comments', () => {
    const { tables, values } = tomlStatements(DOC);
    expect(tables.map((t) => t.path)).toEqual([['mcp_servers', 'files'], ['mcp_servers', 'with space', 'env'], ['profiles', '0'], ['profiles', '1'], ['profiles', '1', 'extra'], ['mcp_servers']]);
    expect(values.map((v) => v.path.join('.'))).toEqual([
      'model',
      'notes',
      'lit',
      'when',
      'mcp_servers.files.command',
      'mcp_servers.files.args',
      'mcp_servers.files.env',
      'mcp_servers.with space.env.A',
      'profiles.0.name',
      'profiles.1.name',
      'profiles.1.extra.k',
      'mcp_servers.dotted.command',
      'mcp_servers.quoted key.command',
    ]);
    const args = values.find((v) => v.path.join('.') === 'mcp_servers.files.args')!;
    expect(DOC.slice(args.valueStart, args.valueEnd)).toMatch(/^\[\n {2}"-y",[\s\S]*\{ a = "\]" \},\n\]$/);
    expect(args.line).toBe(14);
    const cmd = values.find((v) => v.path.join('.') === 'mcp_servers.files.command')!;
    expect(DOC.slice(cmd.valueStart, cmd.valueEnd)).toBe('"npx"');
    expect(DOC.slice(cmd.lineStart, cmd.lineEnd)).toBe('command = "npx"   # the filesystem server\n');
    const when = values.find((v) => v.path[0] === 'when')!;
    expect(DOC.slice(when.valueStart, when.valueEnd)).toBe('1979-05-27 07:32:00Z');
    const lineOf = tomlLines({ tables, values });
    expect(lineOf(['mcp_servers', 'files', 'env', 'API_TOKEN'])).toBe(19);
    expect(lineOf(['mcp_servers', 'with space', 'env', 'missing'])).toBe(21);
    expect(lineOf(['profiles', '1', 'extra', 'k'])).toBe(29);
    expect(lineOf(['nowhere'])).toBeUndefined();
  });

  it('reads CRLF line ends, a byte order mark and a last line without a newline', () => {
    const text = '\uFEFF[mcp_servers.a]\r\ncommand = "x" # c\r\nargs = ["y"]';
    const { values } = tomlStatements(text);
    expect(values.map((v) => [v.path.join('.'), v.line])).toEqual([
      ['mcp_servers.a.command', 2],
      ['mcp_servers.a.args', 3],
    ]);
    expect(text.slice(values[0]!.lineStart, values[0]!.lineEnd)).toBe('command = "x" # c\r\n');
    expect(values[1]!.lineEnd).toBe(text.length);
  });

  it('text it cannot follow is an error with its line, not a wrong answer', () => {
    expect(() => tomlStatements('a = 1\nb = [1,\n')).toThrow(TomlSyntaxError);
    try {
      tomlStatements('a = 1\n= 2\n');
    } catch (e) {
      expect((e as TomlSyntaxError).line).toBe(2);
    }
  });
});

describe('parseToml', () => {
  it("a parse error gives the line and the parser's reason, never the file's text (it may hold tokens)", () => {
    try {
      parseToml('a = 1\nb = [1,\n2\nsecret = "sk-live-abcdef"\n');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(TomlSyntaxError);
      expect((e as TomlSyntaxError).line).toBe(4);
      expect((e as Error).message).not.toContain('sk-live');
      expect((e as Error).message).not.toContain('\n');
    }
  });

  it('refuses arrays, and tables through a dotted header or key, nested deeper than any host config', () => {
    expect(() => parseToml(`a = ${'['.repeat(100)}${']'.repeat(100)}\n`)).toThrow(TomlSyntaxError);
    // The parser counts only inline structures; 5,000 dotted parts nested tables that deep, and readers overflowed.
    const parts = (n: number) => Array.from({ length: n }, () => 'a').join('.');
    expect(() => parseToml(`[${parts(5000)}]\nx = 1\n`)).toThrow('nested deeper than 64 levels, which no host config is');
    expect(() => parseToml(`${parts(5000)} = 1\n`)).toThrow(TomlSyntaxError);
    expect(JSON.stringify(parseToml(`[${parts(60)}]\nx = 1\n`)).length).toBeGreaterThan(0);
  });
});

describe('tomlSetEntry', () => {
  const wrapArgs = ['/opt/mcp-warden/dist/cli/index.js', 'wrap', '--name', 'files', '--', 'npx', '-y', '@modelcontextprotocol/server-filesystem', '/home/ada/src'];

  it('changes only command and args: every other byte stays', () => {
    const after = tomlSetEntry(DOC, ['mcp_servers', 'files'], '/usr/bin/node', wrapArgs);
    const want = plain(parseToml(DOC)) as { mcp_servers: Record<string, Record<string, unknown>> };
    want.mcp_servers['files']!['command'] = '/usr/bin/node';
    want.mcp_servers['files']!['args'] = wrapArgs;
    expect(plain(parseToml(after))).toEqual(want);
    const start = DOC.indexOf('command = "npx"');
    const end = DOC.indexOf('\nenv = {');
    expect(after.slice(0, start)).toBe(DOC.slice(0, start));
    expect(after.slice(after.indexOf('\nenv = {'))).toBe(DOC.slice(end));
    expect(after).toContain('command = "/usr/bin/node"   # the filesystem server\nargs = ["/opt/mcp-warden/dist/cli/index.js", "wrap"');
  });

  it('adds args under command when the entry has none, with the same indent and dotted prefix; removes them for none', () => {
    const text = '[mcp_servers]\n  dotted.command = "node" # n\n  dotted.env = { A = "1" }\n';
    const added = tomlSetEntry(text, ['mcp_servers', 'dotted'], 'mcp-warden', ['wrap', '--', 'node']);
    expect(added).toBe('[mcp_servers]\n  dotted.command = "mcp-warden" # n\n  dotted.args = ["wrap", "--", "node"]\n  dotted.env = { A = "1" }\n');
    expect(tomlSetEntry(added, ['mcp_servers', 'dotted'], 'node', undefined)).toBe(text);
    // A last line without a newline gets one before the new line.
    expect(tomlSetEntry("[mcp_servers.x]\ncommand = 'uvx'", ['mcp_servers', 'x'], 'mcp-warden', ['wrap'])).toBe('[mcp_servers.x]\ncommand = "mcp-warden"\nargs = ["wrap"]\n');
    expect(tomlSetEntry('[mcp_servers.x]\r\ncommand = "a"\r\n', ['mcp_servers', 'x'], 'b', ['c'])).toBe('[mcp_servers.x]\r\ncommand = "b"\r\nargs = ["c"]\r\n');
  });

  it('any text round-trips through the strings it writes (quotes, backslashes, control characters, DEL, non-Latin)', () => {
    const odd = ['say "hi"', 'C:\\Program Files\\x', 'tab\there', 'bell\u0007', 'del\u007f', 'line\nbreak', 'ünïcødé ✓ 𝄞', "it's", '#not a comment', '] }'];
    const after = tomlSetEntry('[mcp_servers.x]\ncommand = "a"\n', ['mcp_servers', 'x'], odd[0]!, odd);
    expect(plain(parseToml(after))).toEqual({ mcp_servers: { x: { command: odd[0], args: odd } } });
    expect(tomlString('del\u007f')).toBe('"del\\u007f"');
  });

  it('exotic but valid TOML around the entry: escaped quotes in multi-line strings, spaces around dots, comments inside the array', () => {
    const text = [
      '# [mcp_servers.fake] "quotes" \'\'\'',
      'title = """He said \\"""hi\\""" and [x] """',
      "lit = '''it's ''quoted'' '''",
      'n = 1_000',
      'h = 0xDEAD_BEEF',
      'f = +inf',
      'd = 1979-05-27',
      't = 07:32:00',
      'nested = { a = [ { b = "]" }, { c = \'}\' } ], d = { e = [] } }',
      '',
      '[ mcp_servers . "odd name" ]   # spaces around dots',
      'command = "npx"',
      'args = [ # after the bracket',
      '  "-y", # one',
      "  'literal \\ backslash',",
      '  """multi',
      'line""",',
      '] # trailing',
      '',
    ].join('\n');
    const before = plain(parseToml(text)) as { mcp_servers: Record<string, { args: string[] }> };
    expect(before.mcp_servers['odd name']!.args).toEqual(['-y', 'literal \\ backslash', 'multi\nline']);
    const args = ['wrap', '--', 'npx', ...before.mcp_servers['odd name']!.args];
    const after = tomlSetEntry(text, ['mcp_servers', 'odd name'], 'mcp-warden', args);
    expect(plain(parseToml(after))).toEqual({ ...before, mcp_servers: { 'odd name': { command: 'mcp-warden', args } } });
    expect(after.split('\n').slice(0, 11)).toEqual(text.split('\n').slice(0, 11));
    expect(after).toContain('] # trailing');
  });

  it('an entry written as an inline table cannot be changed in place: TomlEditError', () => {
    expect(() => tomlSetEntry('[mcp_servers]\ninline = { command = "node", args = ["s.js"] }\n', ['mcp_servers', 'inline'], 'x', [])).toThrow(TomlEditError);
    expect(() => tomlSetEntry('mcp_servers = { a = { command = "node" } }\n', ['mcp_servers', 'a'], 'x', [])).toThrow(TomlEditError);
  });
});
