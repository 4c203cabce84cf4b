/**
 * Base64 written inside text strings (`redaction.decode_base64`): a file's content as a REST API returns it, a
 * `.env` a tool encoded, a credential in a config blob. The model decodes base64 as easily as it reads text, so a
 * secret inside it reaches the model all the same. Runs of 20 or more characters of either alphabet, with letters of
 * both cases, are decoded; what decodes to text is scanned, and a run whose text changed is encoded again in the
 * alphabet, padding and line width it came in. Lines of one width (a multiple of four: 60, 64, 76) joined by a line
 * break, or by its JSON escape (base64 in a JSON document returned as text), are one run, so a secret a line break
 * cuts in two is found.
 */

/** A run long enough to hold a secret: 20 characters decode to 15 bytes. */
const MIN_RUN = 20;

/** Base64 characters of either alphabet (`+/` or `-_`), as bits: 1 a digit or sign, 2 an upper-case letter, 4 a lower-case one. */
const CLASS = new Uint8Array(128);
for (let c = 48; c <= 57; c++) CLASS[c] = 1;
for (let c = 65; c <= 90; c++) CLASS[c] = 2;
for (let c = 97; c <= 122; c++) CLASS[c] = 4;
for (const c of '+/_-') CLASS[c.charCodeAt(0)] = 1;
const EQ = 61;
const LF = 10;
const CR = 13;
const BACKSLASH = 92;

/**
 * The line break at `i`, as its length: LF or CRLF, or the same written as JSON escapes (`\n`, `\r\n`: base64 in a
 * JSON document that a tool returns as text, such as a REST API's answer); 0 when there is none.
 */
function lineBreakAt(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === LF) return 1;
  if (c === CR) return text.charCodeAt(i + 1) === LF ? 2 : 0;
  if (c !== BACKSLASH) return 0;
  const d = text.charCodeAt(i + 1);
  if (d === 110) return 2; // \n
  return d === 114 && text.charCodeAt(i + 2) === BACKSLASH && text.charCodeAt(i + 3) === 110 ? 4 : 0; // \r\n
}

export interface Base64Run {
  /** Where the run lies in the text (line breaks included). */
  start: number;
  end: number;
  /** Its characters without line breaks. */
  b64: string;
  /** Its line width and line break when it spans lines (width 0: one line). */
  width: number;
  lineBreak: string;
  /** The length of its last line when it spans lines. */
  lastLine: number;
}

/** The CLASS bits of the characters the last `charsEnd` passed over (nothing is made per call: most runs are words). */
let scannedCases = 0;

/** Where the base64 characters from `i` end; their letters' cases in `scannedCases`. */
function charsEnd(text: string, i: number): number {
  const n = text.length;
  let cases = 0;
  let c = 0;
  while (i < n && (c = text.charCodeAt(i)) < 128 && CLASS[c]! > 0) {
    cases |= CLASS[c]!;
    i++;
  }
  scannedCases = cases;
  return i;
}

/** Where the padding from `i` (up to two `=`) ends. */
function paddingEnd(text: string, i: number): number {
  for (let k = 0; k < 2 && text.charCodeAt(i) === EQ; k++) i++;
  return i;
}

/**
 * The runs of base64 in a text that could hold text: 20 characters or more, with both upper- and lower-case letters.
 * Base64 of text has both (the first character of every four encodes the top bits of a byte below 0x80: A–Z or a–f),
 * and snake_case names and hex digests, the commonest long runs in prose, lack one. Lines of one width (a multiple
 * of four, without padding) joined by the same line break are one run; its last line may be shorter, and padded.
 * One pass over the text, nothing made for what is not a run. `first`: stop at the first run (a prefilter).
 */
export function base64Runs(text: string, first = false): Base64Run[] {
  const runs: Base64Run[] = [];
  const n = text.length;
  for (let i = 0; i < n; ) {
    const c = text.charCodeAt(i);
    if (c >= 128 || CLASS[c] === 0) {
      // A backslash starts an escape (`\n` in JSON written as text): the letter after it is not base64's.
      i += c === BACKSLASH ? 2 : 1;
      continue;
    }
    const start = i;
    i = charsEnd(text, i);
    if (i - start < MIN_RUN) continue;
    let cases = scannedCases;
    let end = paddingEnd(text, i);
    const width = end - start;
    let lineBreak = '';
    let lastLine = 0;
    let lines = 1;
    if (end === i && width % 4 === 0) {
      for (;;) {
        const br = lineBreakAt(text, end);
        if (br === 0 || (lineBreak !== '' && text.slice(end, end + br) !== lineBreak)) break;
        const from = end + br;
        const chars = charsEnd(text, from);
        const next = paddingEnd(text, chars);
        const len = next - from;
        if (len === 0 || len > width) break;
        lineBreak = text.slice(end, from);
        cases |= scannedCases;
        end = next;
        lastLine = len;
        lines++;
        if (len < width || next > chars) break;
      }
    }
    i = end;
    if ((cases & 6) !== 6) continue;
    const raw = text.slice(start, end);
    runs.push({ start, end, b64: lines > 1 ? raw.split(lineBreak).join('') : raw, width: lines > 1 ? width : 0, lineBreak, lastLine });
    if (first) return runs;
  }
  return runs;
}

/** Whether a text holds a run of base64 that could hold text (a message's prefilter). */
export function hasBase64Run(text: string): boolean {
  return base64Runs(text, true).length > 0;
}

/**
 * A wrapped run without its last line, when that line is shorter than the others: it may be a word on the next line
 * rather than base64's tail (`-----END` after a PEM body), and it spoils the decoding of the lines before it.
 */
export function withoutShortLastLine(run: Base64Run): Base64Run | undefined {
  if (run.width === 0 || run.lastLine >= run.width) return undefined;
  const b64 = run.b64.slice(0, run.b64.length - run.lastLine);
  return { ...run, b64, end: run.end - run.lastLine - run.lineBreak.length, lastLine: run.width };
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The text a run decodes to, or undefined when it is not text: it must be UTF-8 without control characters other
 * than tab, line feed and carriage return. Identifiers and binary data decode to bytes that are not.
 */
export function base64Text(run: Base64Run): string | undefined {
  const buf = Buffer.from(run.b64, 'base64');
  if (buf.length < 12) return undefined;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i]!;
    if ((c < 32 && c !== 9 && c !== 10 && c !== 13) || c === 127) return undefined;
  }
  try {
    return utf8.decode(buf);
  } catch {
    return undefined;
  }
}

/**
 * `text` encoded as the run was: its alphabet, its line width and line break, and padded unless the run showed it is
 * written without (it ended short of a multiple of four without `=`, or it is base64url without `=`).
 */
export function encodeLike(run: Base64Run, text: string): string {
  const url = /[-_]/.test(run.b64);
  let out = Buffer.from(text, 'utf8').toString(url ? 'base64url' : 'base64');
  const padded = run.b64.endsWith('=') || (!url && run.b64.length % 4 === 0);
  if (!padded) out = out.replace(/=+$/, '');
  else if (url) out += '='.repeat((4 - (out.length % 4)) % 4);
  if (run.width === 0 || out.length <= run.width) return out;
  const lines: string[] = [];
  for (let i = 0; i < out.length; i += run.width) lines.push(out.slice(i, i + run.width));
  return lines.join(run.lineBreak);
}
