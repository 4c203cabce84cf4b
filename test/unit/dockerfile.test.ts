/**
 * Issue 8: the Dockerfile cannot be built on these machines (no Docker engine, and Debian has no hadolint), so it
 * is checked statically: every instruction known and well formed, a multi-stage build on a Debian Node 20 image with
 * the native addons compiled in the builder, a non-root runtime that works with a read-only root file system, a
 * health check against /healthz, a volume for the audit data, exec-form entrypoint, and every COPY source present.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '../..');
const KNOWN = ['FROM', 'RUN', 'CMD', 'LABEL', 'EXPOSE', 'ENV', 'ADD', 'COPY', 'ENTRYPOINT', 'VOLUME', 'USER', 'WORKDIR', 'ARG', 'ONBUILD', 'STOPSIGNAL', 'HEALTHCHECK', 'SHELL'];

interface Instr {
  op: string;
  args: string;
  line: number;
}

function instructions(text: string): Instr[] {
  const out: Instr[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let l = lines[i]!;
    if (/^\s*(#|$)/.test(l)) continue;
    while (l.endsWith('\\') && i + 1 < lines.length) l = `${l.slice(0, -1)} ${lines[++i]!.trim()}`;
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(l);
    if (!m) throw new Error(`Dockerfile:${start + 1}: not an instruction: ${l}`);
    out.push({ op: m[1]!.toUpperCase(), args: m[2]!.trim(), line: start + 1 });
  }
  return out;
}

describe('Dockerfile (static checks)', () => {
  const text = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  const ins = instructions(text);
  const stages: Instr[][] = [];
  for (const i of ins) {
    if (i.op === 'FROM') stages.push([]);
    stages[stages.length - 1]?.push(i);
  }
  const runtime = stages[stages.length - 1]!;
  const argDefault = (name: string) => /^(\w+)=(.*)$/.exec(ins.find((i) => i.op === 'ARG' && i.args.startsWith(`${name}=`))?.args ?? '')?.[2];
  const image = (from: string) => from.split(/\s+/)[0]!.replace(/^\$\{(\w+)\}$/, (_m, n: string) => argDefault(n) ?? '');

  it('uses only known instructions, in a well-formed way', () => {
    for (const i of ins) expect(KNOWN, `line ${i.line}`).toContain(i.op);
    for (const i of ins.filter((x) => ['ENTRYPOINT', 'CMD'].includes(x.op) || (x.op === 'HEALTHCHECK' && x.args.includes('CMD ['))))
      expect(() => JSON.parse(i.op === 'HEALTHCHECK' ? i.args.slice(i.args.indexOf('CMD ') + 4) : i.args), `exec form at line ${i.line}`).not.toThrow();
    expect(ins.some((i) => i.op === 'ADD'), 'COPY, never ADD (no remote URLs or auto-extraction)').toBe(false);
  });

  it('is a multi-stage build on a pinned Debian Node 20 image, native addons compiled in the builder', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages) expect(image(s[0]!.args)).toMatch(/^node:20[.\d]*-(bookworm|trixie)(-slim)?$/);
    const build = stages[0]!;
    expect(build[0]!.args).toMatch(/\bAS build$/i);
    const runs = build.filter((i) => i.op === 'RUN').map((i) => i.args).join('\n');
    expect(runs).toMatch(/apt-get install[^\n]*python3[^\n]*make[^\n]*g\+\+/);
    expect(runs).toMatch(/rm -rf \/var\/lib\/apt\/lists/);
    expect(runs).toMatch(/npm ci\b/);
    expect(runs).toMatch(/npm prune --omit=dev/);
    // `npm run build` reads the redaction packs and schemas (scripts/build-assets.mjs): they must be in the builder first.
    const buildRun = build.findIndex((i) => i.op === 'RUN' && /npm run build/.test(i.args));
    const copied = build.slice(0, buildRun).filter((i) => i.op === 'COPY').flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    for (const need of ['src', 'scripts', 'rules', 'schemas']) expect(copied, `COPY ${need} before npm run build`).toContain(need);
    expect(runtime.filter((i) => i.op === 'RUN').map((i) => i.args).join('\n')).not.toMatch(/apt-get|npm (ci|install)|g\+\+/);
    expect(runtime.filter((i) => i.op === 'COPY' && i.args.includes('--from=build')).length).toBeGreaterThanOrEqual(2);
  });

  it('runs as a non-root user with state on a volume, so a read-only root file system works', () => {
    const user = runtime.filter((i) => i.op === 'USER').pop();
    expect(user?.args).toBeDefined();
    expect(user!.args).not.toMatch(/^(root|0)(:|$)/);
    const env = runtime.filter((i) => i.op === 'ENV').map((i) => i.args).join(' ');
    expect(env).toMatch(/MCP_WARDEN_STATE_DIR=\/data\b/);
    expect(env).toMatch(/HOME=\/data\b/);
    expect(env).toMatch(/MCP_WARDEN_CONFIG=\/etc\/mcp-warden\/config\.yaml/);
    expect(runtime.find((i) => i.op === 'VOLUME')?.args).toContain('/data');
    expect(runtime.filter((i) => i.op === 'RUN').map((i) => i.args).join('\n')).toMatch(/chown node:node \/data/);
  });

  it('has a health check on /healthz, a stop signal the gateway drains on, and an exec-form entrypoint', () => {
    const hc = runtime.find((i) => i.op === 'HEALTHCHECK');
    expect(hc?.args).toMatch(/\/healthz/);
    expect(hc?.args).toMatch(/--interval=\d+s/);
    expect(runtime.find((i) => i.op === 'STOPSIGNAL')?.args).toBe('SIGTERM');
    const ep = JSON.parse(runtime.find((i) => i.op === 'ENTRYPOINT')!.args) as string[];
    expect(ep).toEqual(['node', '/app/dist/cli/index.js']);
    expect(JSON.parse(runtime.find((i) => i.op === 'CMD')!.args)).toEqual(['serve']);
    expect(runtime.find((i) => i.op === 'EXPOSE')?.args).toBe('8080');
  });

  it('copies only files that exist, and .dockerignore keeps build output, dependencies and secrets out', () => {
    for (const c of ins.filter((i) => i.op === 'COPY' && !i.args.includes('--from='))) {
      const parts = c.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      for (const src of parts.slice(0, -1)) expect(existsSync(path.join(ROOT, src)), `COPY ${src} (line ${c.line})`).toBe(true);
    }
    const ignore = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const p of ['node_modules', 'dist', '.git', '*.key', '*.db', '.env*']) expect(ignore).toContain(p);
  });
});
