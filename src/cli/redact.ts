/**
 * `mcp-warden redact [--config F] [--format text|json]`: stdin → stdout through the configured detectors.
 *
 * text: the redacted text. json: `{text, findings: [{rule, category, action, start, end}]}` with offsets in
 * Unicode code points of the input; a finding never carries the matched value. When a finding's action is
 * `block`, nothing of the input is printed (json: `text: null`) and the exit code is 1. With
 * `redaction.decode_base64`, base64 runs are decoded and acted on as the proxy does in a text string; a finding in
 * one spans the whole run and has `base64: true`.
 */
import type { Command } from 'commander';
import { findConfig } from '../config/config.js';
import { UsageError } from '../errors.js';
import { DEFAULT_SETTINGS, buildRedaction, redactionSettings } from '../redact/setup.js';
import { readInput } from './input.js';

const MAX_INPUT = 256 * 1024 * 1024;

/**
 * UTF-16 offset → code point offset. Findings come in increasing order, so it counts on from the last answer (it
 * counted from the start each time: a megabyte with emoji and 20,000 findings took 15 s).
 */
function codePointOffsets(text: string): (i: number) => number {
  if (!/[\uD800-\uDFFF]/.test(text)) return (i) => i;
  let at = 0;
  let n = 0;
  return (i) => {
    if (i < at) {
      at = 0;
      n = 0;
    }
    for (; at < i; at++) {
      const c = text.charCodeAt(at);
      if (c >= 0xd800 && c <= 0xdbff && at + 1 < i) at++;
      n++;
    }
    return n;
  };
}

export function registerRedact(program: Command): void {
  program
    .command('redact')
    .description('redact stdin to stdout with the configured detectors (--format json lists findings, never values)')
    .option('--config <file>', 'config file (default: $MCP_WARDEN_CONFIG, then the user config)')
    .option('--format <format>', 'text or json', 'text')
    .action(async (opts: { config?: string; format: string }) => {
      if (opts.format !== 'text' && opts.format !== 'json') throw new UsageError(`--format: "${opts.format}" is not text or json`);
      const { config } = findConfig(opts.config);
      const settings = redactionSettings(config) ?? { ...DEFAULT_SETTINGS, packs: [] };
      const redaction = buildRedaction(settings, config.file);
      const input = await readInput('-', MAX_INPUT, { fatal: true });
      const r = redaction.outbound.redactTextAsSent(input);
      const actionOf = new Map(redaction.rules.map((x) => [x.id, x]));
      if (opts.format === 'json') {
        const cp = codePointOffsets(input);
        const findings = r.findings.map((f) => {
          const rule = actionOf.get(f.rule);
          return { rule: f.rule, category: f.category, action: rule ? redaction.actionOf(rule) : 'mask', start: cp(f.start), end: cp(f.end), ...(f.base64 ? { base64: true } : {}) };
        });
        process.stdout.write(`${JSON.stringify({ text: r.blocked ? null : r.text, findings, ...(r.blocked ? { blocked: r.blocked } : {}) })}\n`);
      } else if (!r.blocked) process.stdout.write(r.text);
      if (r.blocked) {
        process.stderr.write(`mcp-warden: withheld: a finding of rule ${r.blocked.rule} has action block\n`);
        process.exitCode = 1;
      }
    });
}
