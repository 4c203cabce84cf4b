/**
 * Arguments are checked against the tool's inputSchema (from the server's last tools/list) before any argument
 * rule runs: mistyped arguments are "can't decide". The schema comes from the server, so it is hostile input too:
 * its `pattern`s run on RE2 (no ReDoS), its size is bounded, and a schema that cannot be compiled makes argument
 * constraints undecidable rather than skipping them.
 */
import { createHash } from 'node:crypto';
import { Ajv, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import RE2 from 're2';
import { isObject } from '../protocol/jsonrpc.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const MAX_SCHEMA_BYTES = 256 * 1024;

function make<T extends Ajv>(A: new (o: object) => T): T {
  const ajv = new A({
    strict: false,
    // Ajv warns on the console about what it ignores (an unknown format), quoting the schema: the server's text,
    // line breaks included, would reach the proxy's log on stderr as lines of its own.
    logger: false,
    allErrors: false,
    validateSchema: false,
    addUsedSchema: false,
    loadSchema: undefined,
    code: { regExp: (pattern: string, flags: string) => new RE2(pattern, flags) as unknown as RegExp },
  });
  addFormats(ajv);
  return ajv;
}

let draft7: Ajv | undefined;
let v2020: Ajv | undefined;
/** Compiled validators by the schema's text (a tool list fetched again brings equal schemas in new objects). */
const cache = new Map<string, ValidateFunction | 'invalid'>();
/**
 * The same by the schema object itself: a tool list is kept until the next tools/list and nothing changes its
 * schemas, so every call to a tool finds its validator without serialising and hashing the schema again.
 */
const bySchema = new WeakMap<object, ValidateFunction | 'invalid' | 'too-large'>();

export type ArgsCheck = { valid: true } | { valid: false; problem: string };

export function checkArgs(schema: unknown, args: unknown): ArgsCheck {
  if (!isObject(schema)) return { valid: true };
  let v = bySchema.get(schema);
  if (v === undefined) bySchema.set(schema, (v = validatorFor(schema)));
  if (v === 'too-large') return { valid: false, problem: 'the inputSchema is too large to check' };
  if (v === 'invalid') return { valid: false, problem: 'the tool’s inputSchema cannot be checked safely' };
  if (v(args ?? {})) return { valid: true };
  const e = v.errors?.[0];
  return { valid: false, problem: e ? `${e.instancePath || '(arguments)'} ${e.message ?? 'is invalid'}` : 'invalid' };
}

function validatorFor(schema: Record<string, unknown>): ValidateFunction | 'invalid' | 'too-large' {
  const text = JSON.stringify(schema);
  if (text.length > MAX_SCHEMA_BYTES) return 'too-large';
  const key = createHash('sha256').update(text).digest('hex');
  let v = cache.get(key);
  if (v === undefined) {
    const dollar = typeof schema['$schema'] === 'string' ? schema['$schema'] : '';
    const ajv = /draft-0[4-7]/.test(dollar) ? (draft7 ??= make(Ajv)) : (v2020 ??= make(Ajv2020 as unknown as new (o: object) => Ajv));
    try {
      // Remote $refs are never fetched (loadSchema is unset); the schema is compiled without its $id registered.
      const { $id: _id, ...rest } = schema as Record<string, unknown>;
      v = ajv.compile(rest);
    } catch {
      v = 'invalid';
    }
    if (cache.size > 2000) cache.clear();
    cache.set(key, v);
  }
  return v;
}
