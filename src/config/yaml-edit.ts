/**
 * YAML host configs (Goose's config.yaml) edited in place, as install edits JSON and TOML: the parser's node ranges
 * say where a value's text is, and only those values are rewritten (as JSON text, which YAML reads as the same
 * strings), so comments, order and every other line stay. Callers read the result back before writing it.
 */
import YAML, { isMap, isScalar, isSeq, type Pair } from 'yaml';
import { applyEdits, InPlaceEditError, type Edit } from './edits.js';

/** Why an entry cannot be edited in place: what install changes is a block map with the command on its own line. */
export class YamlEditError extends InPlaceEditError {
  constructor(message: string, commandKey: string) {
    super(message, `an entry written as a block map with ${commandKey}: … on a line of its own`);
  }
}

/**
 * Gives the block map at `entry` this command (under `commandKey`) and these args (none: the `args` line(s) removed).
 * A flow map (`name: { cmd: x }`) or a value that is not plain text is refused with YamlEditError.
 */
export function yamlSetEntry(text: string, entry: string[], commandKey: string, command: string, args: string[] | undefined): string {
  const doc = YAML.parseDocument(text, { uniqueKeys: false });
  const node = doc.getIn(entry, true);
  if (!isMap(node) || node.flow) throw new YamlEditError('written as a flow map ({ … }) or not a map', commandKey);
  const pairOf = (k: string): Pair | undefined => node.items.find((p) => isScalar(p.key) && String(p.key.value) === k);
  const cmd = pairOf(commandKey);
  if (!cmd || !isScalar(cmd.key) || !isScalar(cmd.value) || !cmd.key.range || !cmd.value.range) throw new YamlEditError(`its ${commandKey} is not a plain value`, commandKey);
  const list = args && `[${args.map((a) => JSON.stringify(a)).join(', ')}]`;
  const edits: Edit[] = [{ offset: cmd.value.range[0], length: cmd.value.range[1] - cmd.value.range[0], content: JSON.stringify(command) }];
  const old = pairOf('args');
  const lineStart = (at: number) => text.lastIndexOf('\n', at - 1) + 1;
  if (old) {
    const v = old.value;
    if (!(isSeq(v) || isScalar(v)) || !v.range || !isScalar(old.key) || !old.key.range) throw new YamlEditError('its args are not a list', commandKey);
    if (list !== undefined) {
      // A block list's text ends with its newline; the flow list put in its place keeps one.
      const [from, to] = v.range;
      edits.push({ offset: from, length: to - from, content: list + (text.slice(from, to).endsWith('\n') ? '\n' : '') });
    } else {
      const end = text.slice(v.range[1] - 1, v.range[1]) === '\n' ? v.range[1] : text.indexOf('\n', v.range[1]) + 1 || text.length;
      const from = lineStart(old.key.range[0]);
      edits.push({ offset: from, length: end - from, content: '' });
    }
  } else if (list !== undefined) {
    const eol = text.includes('\r\n') ? '\r\n' : '\n';
    const afterCmd = text.indexOf('\n', cmd.value.range[1]);
    const at = afterCmd < 0 ? text.length : afterCmd + 1;
    const lead = afterCmd < 0 ? eol : '';
    edits.push({ offset: at, length: 0, content: `${lead}${text.slice(lineStart(cmd.key.range[0]), cmd.key.range[0])}args: ${list}${eol}` });
  }
  return applyEdits(text, edits);
}
