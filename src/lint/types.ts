/**
 * The linter's model: what a manifest says about a server, normalised from whichever format it came in, and the
 * findings rules report about it. Rule ids follow the catalogue in docs/lint.md (TP, NM, SQ, CAP, TF, SJ, MB,
 * CF, DR families) and stay stable across releases.
 */

export type Severity = 'CRIT' | 'HIGH' | 'MED' | 'LOW' | 'INFO' | 'ERROR' | 'WARN';

/** Ordering for --fail-on and for "at least": validity ERROR ranks with HIGH, WARN with MED. */
export const SEVERITY_RANK: Record<Severity, number> = { INFO: 0, LOW: 1, WARN: 2, MED: 2, HIGH: 3, ERROR: 3, CRIT: 4 };

export function atLeast(s: Severity, min: Severity): boolean {
  return SEVERITY_RANK[s] >= SEVERITY_RANK[min];
}

/** One step up (TP018: text that reaches the model before any tool is chosen). */
export function raise(s: Severity): Severity {
  return s === 'INFO' ? 'LOW' : s === 'LOW' ? 'MED' : s === 'MED' || s === 'WARN' ? 'HIGH' : s === 'HIGH' || s === 'ERROR' ? 'CRIT' : s;
}

export interface Location {
  file?: string;
  /** JSON Pointer into the file. */
  pointer: string;
  line?: number;
  column?: number;
}

export interface Finding {
  rule: string;
  severity: Severity;
  /** What the finding is about: `server/tools/name`, `server/tools/name/inputSchema/properties/x`, `server`. */
  target: string;
  message: string;
  location: Location;
  /** A short excerpt, made terminal-safe; never a secret's value. */
  evidence?: string;
  server?: string;
  /** CAP findings: the capability labels. */
  capabilities?: string[];
}

export interface ToolModel {
  name: string;
  title?: string;
  description?: string;
  inputSchema?: unknown;
  outputSchema?: unknown;
  annotations?: Record<string, unknown>;
  /** The whole object as given (for pins and drift). */
  raw: Record<string, unknown>;
  pointer: string;
}

export interface PromptModel {
  name: string;
  title?: string;
  description?: string;
  arguments: { name: string; description?: string; pointer: string }[];
  /** MCPB prompt text. */
  text?: string;
  raw: Record<string, unknown>;
  pointer: string;
}

export interface ResourceModel {
  uri: string;
  name?: string;
  description?: string;
  /** The `_meta` keys a host acts on (pins.ts hostMeta): an MCP Apps view's CSP domains and permissions. */
  meta?: Record<string, unknown>;
  /** From `resourceTemplates` (`uri` is the template): no one view's listing. */
  template?: true;
  /** The whole entry as given. */
  raw: Record<string, unknown>;
  pointer: string;
}

/** How a server is launched or reached (configs, server.json, MCPB). */
export interface LaunchModel {
  command?: string;
  args: string[];
  env: Record<string, string>;
  url?: string;
  type?: string;
  headers: Record<string, string>;
  /** String credentials of an `auth` object (mcp-warden's config: `token`, `client_secret`), by key. */
  credentials: Record<string, string>;
  pointer: string;
  /** The key its environment is under: `env`, or opencode's `environment`. */
  envKey: string;
  /** The pointer of `args[i]`: under `args`, or `command[i + 1]` where the command is one array (opencode). */
  argsAt: (i: number) => string;
}

export interface ServerModel {
  name: string;
  file: string;
  format: InputFormat;
  instructions?: { text: string; pointer: string };
  tools: ToolModel[];
  prompts: PromptModel[];
  resources: ResourceModel[];
  /** A saved list that had a nextCursor: not the whole list. */
  partial: boolean;
  /** Protocol version the list was produced under, when known (2026-07-28 result fields imply it). */
  protocolVersion?: string;
  launch?: LaunchModel;
  /** Whether tools carry schemas (live lists do; MCPB and some catalogs only name and describe them). */
  schemas: boolean;
  pointer: string;
}

export type InputFormat = 'tools-list' | 'server-json' | 'mcpb' | 'client-config' | 'docker-catalog' | 'live';

export interface LintDocument {
  file: string;
  text: string;
  value: unknown;
  format: InputFormat;
  /** JSON Pointer → 1-based line and column. */
  position(pointer: string): { line: number; column: number } | undefined;
}

export interface LintContext {
  servers: ServerModel[];
  documents: LintDocument[];
}

export interface Rule {
  id: string;
  title: string;
  /** The default severity; a check may report another one (combinations, counter-evidence). */
  severity: Severity;
  family: 'TP' | 'NM' | 'SQ' | 'UI' | 'CAP' | 'TF' | 'SJ' | 'MB' | 'CF' | 'DR';
  help: string;
  check(ctx: LintContext): Finding[];
}
