/**
 * The policy cookbook shipped in examples/ (linked from README and docs/policy.md) does what it says: its case table
 * passes `mcp-warden policy test`, and breaking one rule makes the table fail (so the check can fail).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, NODE, ROOT, tmpDir } from '../helpers/cli.js';

const run = (cases: string) => spawnSync(NODE, [CLI, 'policy', 'test', cases], { encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '', HOME: tmpDir() } });

describe('examples/policy-cookbook.yaml', () => {
  it('passes its case table', () => {
    const r = run(path.join(ROOT, 'examples/policy-cookbook.cases.yaml'));
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^(\d+) passed, 0 failed$/m);
    expect(Number(/^(\d+) passed/m.exec(r.stdout)![1])).toBeGreaterThanOrEqual(20);
  });

  it('fails when a recipe is weakened (the https-only fetch rule made to accept http)', () => {
    const dir = tmpDir('mcpw-cookbook-');
    writeFileSync(path.join(dir, 'policy-cookbook.yaml'), readFileSync(path.join(ROOT, 'examples/policy-cookbook.yaml'), 'utf8').replace('schemes: [https]', 'schemes: [https, http]'));
    writeFileSync(path.join(dir, 'cases.yaml'), readFileSync(path.join(ROOT, 'examples/policy-cookbook.cases.yaml'), 'utf8'));
    const r = run(path.join(dir, 'cases.yaml'));
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('FAIL plain http');
  });
});
