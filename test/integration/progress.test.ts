/**
 * Issue 8: progress on long CLI work shows on a terminal only; piped output stays clean and machine-readable.
 * `script` (util-linux) gives the command a pseudo-terminal, as a person's shell would.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, NODE, tmpDir } from '../helpers/cli.js';

function manifests(n: number): string[] {
  const dir = tmpDir('mcpw-progress-');
  return Array.from({ length: n }, (_, i) => {
    const f = path.join(dir, `server-${i}.tools.json`);
    writeFileSync(f, JSON.stringify({ tools: [{ name: `tool_${i}`, description: `Reads record ${i} from the catalogue.`, inputSchema: { type: 'object', properties: { id: { type: 'string', description: 'record id' } }, required: ['id'], additionalProperties: false } }] }));
    return f;
  });
}

const sh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

describe('progress on long CLI work', () => {
  const files = manifests(40);

  it('is silent when stderr is not a terminal', () => {
    const r = spawnSync(NODE, [CLI, 'lint', ...files, '--format', 'json'], { encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '', HOME: tmpDir() } });
    expect(r.stderr).toBe('');
    expect((JSON.parse(r.stdout) as { summary: { total: number } }).summary).toBeDefined();
  });

  it('shows a count on a terminal, and stdout redirected to a file stays valid JSON', () => {
    const out = path.join(tmpDir(), 'lint.json');
    const cmd = `${[NODE, CLI, 'lint', ...files, '--format', 'json'].map(sh).join(' ')} > ${sh(out)}`;
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '', HOME: tmpDir(), TERM: 'xterm' } });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('linting… 40/40 (100%)');
    expect((JSON.parse(readFileSync(out, 'utf8')) as { findings: unknown[] }).findings).toBeDefined();
  });
});
