/**
 * Issue 6, done-when 6: the HTML report opened in headless Chromium with a tool name and an error text that carry
 * HTML and script from a hostile server: charts render, nothing executes, no console errors; a screenshot is kept
 * in test-artifacts/. And a CSV cell that starts with "=" is neutralised.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLI, isolatedEnv, NODE, ROOT, tmpDir, writeConfig, wrapArgs } from '../helpers/cli.js';
import { RawStdio } from '../helpers/raw.js';

const FAULT = path.join(ROOT, 'test/fixtures/fault-server.mjs');
const HOSTILE_TOOL = '<img src=x onerror="window.__pwned=1">';
const HOSTILE_METHOD = 'x/<script>window.__pwned=2</script>';
const FORMULA_TOOL = '=HYPERLINK("http://evil.example","click")';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

let db: string;

beforeAll(async () => {
  const dir = tmpDir('mcpw-report-');
  db = path.join(dir, 'audit.db');
  const cfg = writeConfig(`audit:\n  db: ${db}\n`);
  const peer = new RawStdio(NODE, wrapArgs('--config', cfg, '--name', 'hostile', '--', NODE, FAULT), isolatedEnv());
  await peer.initialize();
  for (let i = 0; i < 5; i++) await peer.call(`ok${i}`, 'echo', { text: String(i) });
  await peer.call('h1', HOSTILE_TOOL);
  await peer.request('h2', HOSTILE_METHOD);
  await peer.call('h3', FORMULA_TOOL);
  await peer.close();
});

describe('audit report', () => {
  it('renders charts, executes nothing from the audit trail, and logs no console errors', async () => {
    const out = path.join(path.dirname(db), 'report.html');
    const printed = execFileSync(NODE, [CLI, 'audit', 'report', '--db', db, '--out', out], { encoding: 'utf8' });
    expect(printed.trim()).toBe(out);
    const html = readFileSync(out, 'utf8');
    expect(html).not.toContain('<script>window.__pwned');
    expect(html).not.toContain('<img src=x');
    expect(html).toMatch(/Content-Security-Policy" content="default-src 'none'; script-src 'sha256-/);

    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 1800 } });
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
      await page.goto(`file://${out}`);
      await page.waitForFunction(() => (window as unknown as { Chart?: { instances: object } }).Chart !== undefined);
      const state = await page.evaluate(() => {
        const w = window as unknown as { __pwned?: number; Chart: { instances: Record<string, unknown> } };
        const canvases = [...document.querySelectorAll('canvas')] as HTMLCanvasElement[];
        return {
          pwned: w.__pwned,
          charts: Object.keys(w.Chart.instances).length,
          drawn: canvases.map((c) => c.width > 0 && c.height > 0 && c.toDataURL().length > 2000),
          imgs: document.querySelectorAll('img').length,
          verification: document.getElementById('verification')!.textContent,
          incidents: document.getElementById('incidents')!.textContent,
          tools: document.body.textContent,
        };
      });
      mkdirSync(path.join(ROOT, 'test-artifacts'), { recursive: true });
      await page.screenshot({ path: path.join(ROOT, 'test-artifacts/audit-report.png'), fullPage: true });
      expect(problems).toEqual([]);
      expect(state.pwned).toBeUndefined();
      expect(state.imgs).toBe(0);
      expect(state.charts).toBeGreaterThanOrEqual(3);
      expect(state.drawn.every(Boolean)).toBe(true);
      expect(state.verification).toMatch(/^Verified: \d+ events, chain intact/);
      // The hostile texts are shown as text.
      expect(state.incidents).toContain('<script>window.__pwned=2</script>');
    } finally {
      await browser.close();
    }
  });

  it('neutralises a CSV cell that starts with "="', () => {
    const csv = execFileSync(NODE, [CLI, 'audit', 'export', '--db', db, '--format', 'csv'], { encoding: 'utf8' });
    expect(csv).toContain(`"'=HYPERLINK(""http://evil.example"",""click"")"`);
    expect(csv.split('\n').some((line) => line.split(',').some((cell) => cell.startsWith('='))) ).toBe(false);
  });

  it('escapes terminal control characters in tail and query', () => {
    const tail = execFileSync(NODE, [CLI, 'audit', 'query', '--db', db], { encoding: 'utf8' });
    expect(tail).not.toMatch(/\u001b/);
  });
});
