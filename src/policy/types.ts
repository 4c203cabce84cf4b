/**
 * Policy as loaded: rules from one or more files, each rule remembering its file (for shadow mode and messages).
 */
export type Effect = 'allow' | 'deny' | 'ask';

export interface Constraint {
  under?: string[];
  not_under?: string[];
  hosts?: string[];
  schemes?: string[];
  pattern?: string;
  max_length?: number;
  one_of?: (string | number | boolean | null)[];
  min?: number;
  max?: number;
  required?: boolean;
}

export interface Rate {
  per_second?: number;
  per_minute?: number;
  per_hour?: number;
  burst?: number;
  per?: 'principal' | 'session' | 'global';
}

export interface Rule {
  id: string;
  description?: string;
  effect: Effect;
  servers?: string[];
  methods?: string[];
  tools?: string[];
  resources?: string[];
  prompts?: string[];
  principal?: { sub?: string[]; scopes?: string[]; claims?: Record<string, (string | number | boolean)[]>; kind?: 'local' | 'oauth' | 'anonymous' };
  annotations?: { readOnlyHint?: boolean; destructiveHint?: boolean; idempotentHint?: boolean; openWorldHint?: boolean };
  args?: Record<string, Constraint>;
  rate?: Rate;
  hidden?: boolean;
  message?: string;
  /** Where the rule came from. */
  file: string;
  line: number;
  mode: 'enforce' | 'shadow';
}

export interface Policy {
  rules: Rule[];
  /** The effect when no enforced rule applies. */
  default: 'allow' | 'deny';
  /** The default of shadow-mode files, when they set one. */
  shadowDefault: 'allow' | 'deny' | undefined;
  askTimeoutMs: number;
  files: string[];
  /** SHA-256 prefix over the files' text: recorded with every decision. */
  version: string;
}
