/**
 * After `tsc`, what `wrap` and `serve` would otherwise work out at every start (most of their start-up time):
 *
 * - each bundled redaction pack as JSON (dist/redact/packs/), with the SHA-256 of its YAML, checked exactly as a
 *   load checks it (schema, every pattern compiled with RE2);
 * - the shipped JSON Schemas (config, policy, redaction) compiled to validator code (dist/config/validators.cjs),
 *   keyed by the content of each schema and the schemas it refers to.
 *
 * Either is used at run time only while it matches: a prebuilt pack while its hash matches the YAML file
 * (src/redact/rules.ts), a validator while its key matches the schema read (src/config/yaml.ts). A bad pack or
 * schema fails the build.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import standalone from 'ajv/dist/standalone/index.js';
import { shippedSchema } from '../dist/config/config.js';
import { AJV_OPTIONS, prebuiltValidatorsFile, validatorKey } from '../dist/config/yaml.js';
import { BUNDLED_PACKS, bundledPackFile, prebuildPack, prebuiltPackFile } from '../dist/redact/rules.js';

for (const name of BUNDLED_PACKS) {
  const file = bundledPackFile(name);
  const out = prebuiltPackFile(name);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(prebuildPack(readFileSync(file, 'utf8'), file))}\n`);
}

// Each validator as the run time asks for it: the schema, and the shipped schemas it refers to.
const SETS = [
  ['config.schema.json', ['redaction.schema.json']],
  ['policy.schema.json', []],
  ['redaction.schema.json', []],
];
// Compiled once each in one instance (the schemas refer to one another by $id); the meta-schema check stays on.
const ajv = new Ajv({ ...AJV_OPTIONS, code: { source: true } });
const names = {};
const keys = {};
SETS.forEach(([name, refs], i) => {
  const schema = shippedSchema(name);
  if (!ajv.getSchema(schema.$id)) ajv.addSchema(schema);
  names[`v${i}`] = schema.$id;
  keys[validatorKey(schema, refs.map((r) => shippedSchema(r)))] = `v${i}`;
});
for (const id of Object.values(names)) if (!ajv.getSchema(id)) throw new Error(`${id}: did not compile`);
const code = (standalone.default ?? standalone)(ajv, names);
writeFileSync(prebuiltValidatorsFile(), `${code}\nexports.keys = ${JSON.stringify(keys)};\n`);
