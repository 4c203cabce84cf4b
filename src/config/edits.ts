/**
 * What the in-place editors of host configs share (TOML: config/toml.ts, YAML: config/yaml-edit.ts): text edits are
 * applied by jsonc-parser's applyEdits, which install's JSON edits use too, and an entry an editor cannot change in
 * place says how it must be written instead.
 */
export { applyEdits, type Edit } from 'jsonc-parser';

/** An entry the editor cannot change in place: why, and the form (`form`) install changes. */
export class InPlaceEditError extends Error {
  constructor(
    message: string,
    readonly form: string,
  ) {
    super(message);
  }
}
