/**
 * Goose's config.yaml edited in place: only the command and args values change; args are added under the command,
 * or removed, line by line; what cannot be changed in place (a flow map) says so.
 */
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { YamlEditError, yamlSetEntry } from '../../src/config/yaml-edit.js';

const at = ['extensions', 'x'];

describe('yamlSetEntry', () => {
  it('replaces a block list with a flow list and keeps the next key on its own line; every other line stays', () => {
    const text = '# top\nextensions:\n  x:\n    cmd: npx # c\n    args:\n      - -y\n      - "pkg"\n    envs: { A: b }\nafter: 1\n';
    const out = yamlSetEntry(text, at, 'cmd', 'mcp-warden', ['wrap', '--', 'npx', '-y', 'pkg']);
    expect(out).toBe('# top\nextensions:\n  x:\n    cmd: "mcp-warden" # c\n    args:\n      ["wrap", "--", "npx", "-y", "pkg"]\n    envs: { A: b }\nafter: 1\n');
    expect(parse(out)).toEqual({ extensions: { x: { cmd: 'mcp-warden', args: ['wrap', '--', 'npx', '-y', 'pkg'], envs: { A: 'b' } } }, after: 1 });
  });

  it('adds args under the command with its indent, and removes them (block or flow) for none', () => {
    const text = 'extensions:\n  x:\n    cmd: uvx\n    type: stdio\n';
    const added = yamlSetEntry(text, at, 'cmd', 'w', ['wrap', '--', 'uvx']);
    expect(added).toBe('extensions:\n  x:\n    cmd: "w"\n    args: ["wrap", "--", "uvx"]\n    type: stdio\n');
    expect(yamlSetEntry(added, at, 'cmd', 'uvx', undefined)).toBe('extensions:\n  x:\n    cmd: "uvx"\n    type: stdio\n');
    const block = 'extensions:\n  x:\n    cmd: a\n    args:\n      - b\n      - c\n    type: stdio\n';
    expect(yamlSetEntry(block, at, 'cmd', 'a', undefined)).toBe('extensions:\n  x:\n    cmd: "a"\n    type: stdio\n');
    // The last line without a newline, and CRLF line ends.
    expect(yamlSetEntry('extensions:\n  x:\n    cmd: a', at, 'cmd', 'b', ['c'])).toBe('extensions:\n  x:\n    cmd: "b"\n    args: ["c"]\n');
    expect(yamlSetEntry('extensions:\r\n  x:\r\n    cmd: a\r\n', at, 'cmd', 'b', ['c'])).toBe('extensions:\r\n  x:\r\n    cmd: "b"\r\n    args: ["c"]\r\n');
  });

  it('any text round-trips through the strings it writes', () => {
    const odd = ['say "hi"', 'C:\\Program Files\\x', 'tab\there', 'bell\u0007', 'line\nbreak', 'ünïcødé ✓ 𝄞', "it's", '#not a comment', '- dash', ': colon', '{ brace }'];
    const out = yamlSetEntry('extensions:\n  x:\n    cmd: a\n', at, 'cmd', odd[0]!, odd);
    expect(parse(out)).toEqual({ extensions: { x: { cmd: odd[0], args: odd } } });
  });

  it('an entry written as a flow map cannot be changed in place: YamlEditError', () => {
    expect(() => yamlSetEntry('extensions:\n  x: { cmd: a, args: [b] }\n', at, 'cmd', 'w', [])).toThrow(YamlEditError);
    expect(() => yamlSetEntry('extensions:\n  x:\n    cmd: [a, b]\n', at, 'cmd', 'w', [])).toThrow(YamlEditError);
  });
});
