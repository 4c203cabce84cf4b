/**
 * Checks that turn a pattern's candidate into a finding. A validator sees the captured value only and must be
 * cheap: they run after the prefilter and the pattern, on a few candidates per message.
 */
import { isIP } from 'node:net';
import { createRequire } from 'node:module';
import type { CountryCode } from 'libphonenumber-js/max';

/** Counts per ASCII code, and the codes seen in the order they first occur; zeroed again after each use. */
const asciiCounts = new Int32Array(128);
const asciiOrder = new Uint8Array(128);

/**
 * Shannon entropy in bits per character. Runs on every candidate of a rule with an entropy minimum: ASCII text is
 * counted in a reused array (a Map cost 2 µs for a 40-character token), summed in the order characters first occur,
 * as the Map was, so the figure is the same to the last bit.
 */
export function entropy(s: string): number {
  const n = s.length;
  if (n === 0) return 0;
  let distinct = 0;
  let i = 0;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128) break;
    if (asciiCounts[c]!++ === 0) asciiOrder[distinct++] = c;
  }
  if (i === n) {
    let h = 0;
    for (let k = 0; k < distinct; k++) {
      const c = asciiOrder[k]!;
      const p = asciiCounts[c]! / n;
      h -= p * Math.log2(p);
      asciiCounts[c] = 0;
    }
    return h;
  }
  for (let k = 0; k < distinct; k++) asciiCounts[asciiOrder[k]!] = 0;
  return entropyOf(s);
}

function entropyOf(s: string): number {
  const counts = new Map<number, number>();
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  let h = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

function digitsOf(s: string): string {
  return s.replace(/[^0-9]/g, '');
}

/** The sum of the first `weights.length` digits of `d`, each times its weight: what most national check digits start from. */
function weightedSum(d: string, weights: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < weights.length; i++) sum += (d.charCodeAt(i) - 48) * weights[i]!;
  return sum;
}

export function luhn(s: string): boolean {
  const d = digitsOf(s);
  if (d.length < 2) return false;
  let sum = 0;
  for (let i = 0; i < d.length; i++) {
    let n = d.charCodeAt(d.length - 1 - i) - 48;
    if (i % 2 === 1) {
      n *= 2;
      if (n > 9) n -= 9;
    }
    sum += n;
  }
  return sum % 10 === 0;
}

/** A payment card: issuer prefix (IIN) and length of a known network, and the Luhn check. */
export function card(s: string): boolean {
  // Mixed separators ("4111 1111-1111 1111") are not how cards are written.
  if (/ /.test(s) && /-/.test(s)) return false;
  const d = digitsOf(s);
  const n = d.length;
  if (n < 13 || n > 19) return false;
  if (/^(\d)\1+$/.test(d)) return false;
  const p2 = Number(d.slice(0, 2));
  const p3 = Number(d.slice(0, 3));
  const p4 = Number(d.slice(0, 4));
  const p6 = Number(d.slice(0, 6));
  const ok =
    (d[0] === '4' && (n === 13 || n === 16 || n === 19)) || // Visa
    (((p2 >= 51 && p2 <= 55) || (p6 >= 222100 && p6 <= 272099)) && n === 16) || // Mastercard
    ((p2 === 34 || p2 === 37) && n === 15) || // American Express
    ((p4 === 6011 || p2 === 65 || (p3 >= 644 && p3 <= 649) || (p6 >= 622126 && p6 <= 622925)) && n >= 16 && n <= 19) || // Discover
    (p4 >= 3528 && p4 <= 3589 && n >= 16 && n <= 19) || // JCB
    (((p3 >= 300 && p3 <= 305) || p2 === 36 || p2 === 38 || p2 === 39) && n >= 14 && n <= 19) || // Diners Club
    (p2 === 62 && n >= 16 && n <= 19) || // UnionPay
    ((p4 === 5018 || p4 === 5020 || p4 === 5038 || p4 === 5893 || p4 === 6304 || p4 === 6759 || p4 === 6761 || p4 === 6762 || p4 === 6763) && n >= 12 && n <= 19) || // Maestro
    (p4 >= 2200 && p4 <= 2204 && n === 16); // Mir
  return ok && luhn(d);
}

/** IBAN lengths by country (ISO 13616 registry). */
const IBAN_LENGTHS: Record<string, number> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BI: 27, BR: 29, BY: 28, CH: 21, CR: 22,
  CY: 28, CZ: 24, DE: 22, DJ: 27, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18, FK: 18, FO: 18, FR: 27, GB: 22,
  GE: 22, GI: 23, GL: 18, GR: 27, GT: 28, HN: 28, HR: 21, HU: 28, IE: 22, IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30,
  KW: 30, KZ: 20, LB: 28, LC: 32, LI: 21, LT: 20, LU: 20, LV: 21, LY: 25, MC: 27, MD: 24, ME: 22, MK: 19, MN: 20,
  MR: 27, MT: 31, MU: 30, NI: 28, NL: 18, NO: 15, OM: 23, PK: 24, PL: 28, PS: 29, PT: 25, QA: 29, RO: 24, RS: 22,
  RU: 33, SA: 24, SC: 31, SD: 18, SE: 24, SI: 19, SK: 24, SM: 27, SO: 23, ST: 25, SV: 28, TL: 23, TN: 24, TR: 26,
  UA: 29, VA: 22, VG: 24, XK: 20, YE: 30,
};

export function iban(s: string): boolean {
  const v = s.replace(/[ -]/g, '').toUpperCase();
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]+$/.test(v)) return false;
  if (IBAN_LENGTHS[v.slice(0, 2)] !== v.length) return false;
  const r = v.slice(4) + v.slice(0, 4);
  let rem = 0;
  for (const ch of r) {
    const code = ch.charCodeAt(0);
    const val = code >= 65 ? String(code - 55) : ch;
    for (const d of val) rem = (rem * 10 + (d.charCodeAt(0) - 48)) % 97;
  }
  return rem === 1;
}

/** US Social Security number: area 001-899 except 666, group 01-99, serial 0001-9999, not a known advertising number. */
export function ssn(s: string): boolean {
  const d = digitsOf(s);
  if (d.length !== 9) return false;
  const area = Number(d.slice(0, 3));
  const group = Number(d.slice(3, 5));
  const serial = Number(d.slice(5));
  if (area === 0 || area === 666 || area >= 900 || group === 0 || serial === 0) return false;
  if (d === '078051120' || d === '219099999' || d === '123456789') return false;
  if (/^(\d)\1{8}$/.test(d)) return false;
  return true;
}

/** US Individual Taxpayer Identification Number: 9XX-[50-65|70-88|90-92|94-99]-XXXX. */
export function itin(s: string): boolean {
  const d = digitsOf(s);
  if (d.length !== 9 || d[0] !== '9') return false;
  const g = Number(d.slice(3, 5));
  return (g >= 50 && g <= 65) || (g >= 70 && g <= 88) || (g >= 90 && g <= 92) || (g >= 94 && g <= 99);
}

/** UK National Insurance number prefixes that are never issued. */
export function nino(s: string): boolean {
  const v = s.replace(/\s/g, '').toUpperCase();
  if (!/^[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]$/.test(v)) return false;
  return !['BG', 'GB', 'KN', 'NK', 'NT', 'TN', 'ZZ'].includes(v.slice(0, 2));
}

const ABA_WEIGHTS = [3, 7, 1, 3, 7, 1, 3, 7, 1];
/** ABA routing number checksum (3-7-1 weights). */
export function aba(s: string): boolean {
  const d = digitsOf(s);
  if (d.length !== 9 || /^0+$/.test(d)) return false;
  return weightedSum(d, ABA_WEIGHTS) % 10 === 0;
}

/** Verhoeff checksum (India Aadhaar). */
const VD = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6], [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
  [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1], [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
  [8, 7, 6, 5, 9, 3, 2, 1, 0, 4], [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];
const VP = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2], [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
  [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1], [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];
export function aadhaar(s: string): boolean {
  const d = digitsOf(s);
  if (d.length !== 12 || d[0] === '0' || d[0] === '1') return false;
  let c = 0;
  for (let i = 0; i < 12; i++) c = VD[c]![VP[i % 8]![d.charCodeAt(11 - i) - 48]!]!;
  return c === 0;
}

type PhoneLibrary = typeof import('libphonenumber-js/max');
let phoneLibrary: PhoneLibrary | undefined;

/**
 * A phone number valid for its country (libphonenumber metadata); numbers without + are read as US/NANP.
 * The full metadata takes longer to load than the rest of the redaction engine to compile, so it is loaded at the
 * first phone-like candidate rather than at start-up. If it cannot be loaded, that throws (the message is refused)
 * instead of letting phone numbers through.
 */
export function phone(s: string, country: CountryCode = 'US'): boolean {
  const d = digitsOf(s);
  if (d.length < 7 || d.length > 15) return false;
  phoneLibrary ??= createRequire(import.meta.url)('libphonenumber-js/max') as PhoneLibrary;
  try {
    return phoneLibrary.isValidPhoneNumber(s, country);
  } catch {
    return false;
  }
}

/**
 * A value written where a label says it is a phone number (`Phone:`, `"mobile_number"`, `Tel.`), in whatever national
 * form: 7 to 15 digits (E.164's longest), not a date (`2026-11-23`, `23.11.2026`) and not one digit repeated (`0000000`,
 * a placeholder). libphonenumber cannot help without the country: a national number is valid in some region for almost
 * any digit string (`2026-11-23` is one in Germany), so the label is the evidence and this only rules out look-alikes.
 */
export function phonelike(s: string): boolean {
  const d = digitsOf(s);
  if (d.length < 7 || d.length > 15) return false;
  if (/^(\d)\1+$/.test(d)) return false;
  const v = s.trim();
  if (/^\d{4}[-./]\d{1,2}[-./]\d{1,2}$/.test(v) || /^\d{1,2}[-./]\d{1,2}[-./]\d{2,4}$/.test(v)) return false;
  return true;
}

// ── National identifiers with a check character ─────────────────────────────────────────────────────────────────

const CF_ODD = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23];
/** The value of a codice fiscale character: a digit as itself, a letter by its place in the alphabet. */
const cfIndex = (c: number) => (c <= 57 ? c - 48 : c - 65);
/**
 * Italy's codice fiscale: 16 characters whose last is a check letter over the first 15 (characters in odd places
 * through a fixed table, in even places by their index; the sum modulo 26).
 */
export function codicefiscale(s: string): boolean {
  if (!/^[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]$/.test(s)) return false;
  let sum = 0;
  for (let i = 0; i < 15; i++) {
    const v = cfIndex(s.charCodeAt(i));
    sum += i % 2 === 0 ? CF_ODD[v]! : v;
  }
  return s.charCodeAt(15) - 65 === sum % 26;
}

/** Spain's DNI (8 digits) and NIE (X, Y or Z and 7 digits), each with its letter: the number modulo 23 in a fixed table. */
export function dni(s: string): boolean {
  const v = s.replace(/-/g, '');
  const m = /^([XYZ]?)([0-9]{7,8})([A-Z])$/.exec(v);
  if (!m || m[1]!.length + m[2]!.length !== 8) return false;
  const n = Number((m[1] ? String('XYZ'.indexOf(m[1])) : '') + m[2]);
  return 'TRWAGMYFPDXBNJZSQVHLCKE'[n % 23] === m[3];
}

const CPF_WEIGHTS = [11, 10, 9, 8, 7, 6, 5, 4, 3, 2];
const CPF_FIRST_WEIGHTS = CPF_WEIGHTS.slice(1);
/** Brazil's CPF: 9 digits and two check digits (weights 10..2, then 11..2, modulo 11); not one digit repeated. */
export function cpf(s: string): boolean {
  const d = digitsOf(s);
  if (d.length !== 11 || /^(\d)\1+$/.test(d)) return false;
  const check = (weights: readonly number[]) => ((weightedSum(d, weights) * 10) % 11) % 10;
  return check(CPF_FIRST_WEIGHTS) === d.charCodeAt(9) - 48 && check(CPF_WEIGHTS) === d.charCodeAt(10) - 48;
}

const CN_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/** China's resident identity card number: 17 digits holding a real date of birth, and a check character (ISO 7064 mod 11-2). */
export function cnid(s: string): boolean {
  const v = s.toUpperCase();
  if (!/^[1-9][0-9]{16}[0-9X]$/.test(v)) return false;
  const y = Number(v.slice(6, 10));
  if (y < 1900 || !realDate(y, Number(v.slice(10, 12)), Number(v.slice(12, 14)))) return false;
  return '10X98765432'[weightedSum(v, CN_WEIGHTS) % 11] === v[17];
}

const NRIC_WEIGHTS = [2, 7, 6, 5, 4, 3, 2];
/** Singapore's NRIC (S, T) and FIN (F, G): 7 digits weighted 2, 7, 6, 5, 4, 3, 2, and a check letter. */
export function nric(s: string): boolean {
  const m = /^([STFG])([0-9]{7})([A-Z])$/.exec(s);
  if (!m) return false;
  const sum = (m[1] === 'T' || m[1] === 'G' ? 4 : 0) + weightedSum(m[2]!, NRIC_WEIGHTS);
  const table = m[1] === 'S' || m[1] === 'T' ? 'JZIHGFEDCBA' : 'XWUTRQPNMLK';
  return table[sum % 11] === m[3];
}

const CURP_CHARS = '0123456789ABCDEFGHIJKLMN\u00d1OPQRSTUVWXYZ';
/** Mexico's CURP: 18 characters, the last a check digit over the first 17 (weights 18..2, modulo 10). */
export function curp(s: string): boolean {
  if (s.length !== 18) return false;
  let sum = 0;
  for (let i = 0; i < 17; i++) {
    const v = CURP_CHARS.indexOf(s[i]!);
    if (v < 0) return false;
    sum += v * (18 - i);
  }
  return (10 - (sum % 10)) % 10 === s.charCodeAt(17) - 48;
}

/** France's NIR (numéro de sécurité sociale): 13 characters (Corsica's 2A and 2B read as 19 and 18) and a key, 97 less the number modulo 97. */
export function nir(s: string): boolean {
  const v = s.replace(/ /g, '').toUpperCase();
  if (!/^[1-478][0-9]{4}(?:[0-9]{2}|2[AB])[0-9]{8}$/.test(v)) return false;
  const body = v.slice(0, 13).replace('2A', '19').replace('2B', '18');
  const key = Number(v.slice(13));
  return key === 97 - Number(BigInt(body) % 97n);
}

const BSN_WEIGHTS = [9, 8, 7, 6, 5, 4, 3, 2];
/** The Netherlands' BSN: 9 digits passing the eleven test (weights 9..2 and -1 for the last); not all zeros. */
export function bsn(s: string): boolean {
  const d = digitsOf(s);
  if (d.length !== 9 || /^0+$/.test(d)) return false;
  return (weightedSum(d, BSN_WEIGHTS) - (d.charCodeAt(8) - 48)) % 11 === 0;
}

/** Germany's tax identification number (Steuer-ID): 11 digits, not starting with 0, the last an ISO 7064 MOD 11,10 check. */
export function detaxid(s: string): boolean {
  const d = digitsOf(s);
  if (d.length !== 11 || d[0] === '0') return false;
  let product = 10;
  for (let i = 0; i < 10; i++) {
    let sum = (d.charCodeAt(i) - 48 + product) % 10;
    if (sum === 0) sum = 10;
    product = (sum * 2) % 11;
  }
  const check = 11 - product === 10 ? 0 : 11 - product;
  return check === d.charCodeAt(10) - 48;
}

const PESEL_WEIGHTS = [1, 3, 7, 9, 1, 3, 7, 9, 1, 3];
/** Poland's PESEL: 11 digits holding a real date of birth (the month carries the century) and a weighted check digit. */
export function pesel(s: string): boolean {
  const d = digitsOf(s);
  if (d.length !== 11) return false;
  if ((10 - (weightedSum(d, PESEL_WEIGHTS) % 10)) % 10 !== d.charCodeAt(10) - 48) return false;
  const mm = Number(d.slice(2, 4));
  const century = [1900, 2000, 2100, 2200, 1800][Math.floor(mm / 20)];
  return century !== undefined && realDate(century + Number(d.slice(0, 2)), mm % 20, Number(d.slice(4, 6)));
}

/** Sweden's personnummer (and samordningsnummer, day + 60): a real date, YYMMDD-NNNC, the last digit a Luhn check over ten. */
export function personnummer(s: string): boolean {
  const d = digitsOf(s);
  if (d.length !== 10 && d.length !== 12) return false;
  const ten = d.slice(-10);
  const day = Number(ten.slice(4, 6));
  const year = d.length === 12 ? Number(d.slice(0, 4)) : 2000 + Number(ten.slice(0, 2));
  return realDate(year, Number(ten.slice(2, 4)), day > 60 ? day - 60 : day) && luhn(ten);
}

function realDate(y: number, m: number, day: number): boolean {
  const date = new Date(Date.UTC(y, m - 1, day));
  return m >= 1 && m <= 12 && date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === day;
}

const FILE_TLDS = new Set(['png', 'jpg', 'jpeg', 'gif', 'svg', 'webp', 'ico', 'js', 'mjs', 'cjs', 'ts', 'tsx', 'jsx', 'css', 'scss', 'html', 'htm', 'json', 'yaml', 'yml', 'md', 'txt', 'py', 'go', 'rs', 'java', 'kt', 'rb', 'php', 'lock', 'toml', 'xml', 'csv', 'log', 'map', 'wasm', 'zip', 'gz', 'tar', 'pdf', 'mp3', 'mp4', 'woff', 'woff2', 'ttf', 'so', 'dll', 'exe', 'bin', 'sh', 'c', 'h', 'cpp', 'hpp', 'cs', 'swift', 'vue', 'svelte', 'local', 'internal', 'invalid', 'test', 'localhost']);

/** An e-mail address with a real-looking domain: not `icon@2x.png`, not `git@host` SSH syntax. */
export function email(s: string): boolean {
  const at = s.lastIndexOf('@');
  if (at <= 0) return false;
  const local = s.slice(0, at);
  const domain = s.slice(at + 1).toLowerCase();
  if (local === 'git' || /^\d+x$/.test(local)) return false;
  const tld = domain.slice(domain.lastIndexOf('.') + 1);
  if (FILE_TLDS.has(tld)) return false;
  if (/^\d/.test(tld)) return false;
  return true;
}

/** A JWT: three base64url parts whose first two decode to JSON objects, the first naming an `alg`. */
export function jwt(s: string): boolean {
  const parts = s.split('.');
  if (parts.length < 3) return false;
  try {
    const header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as unknown;
    const payload = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as unknown;
    return typeof header === 'object' && header !== null && typeof (header as { alg?: unknown }).alg === 'string' && typeof payload === 'object' && payload !== null;
  } catch {
    return false;
  }
}

export function ip(s: string): boolean {
  const v = isIP(s);
  if (v === 4) {
    // Version-like quads (1.2.3.4 with every part < 10) and the unspecified address are noise.
    if (s === '0.0.0.0' || /^\d\.\d\.\d\.\d$/.test(s)) return false;
    return true;
  }
  return v === 6 && s.includes(':') && s.replace(/[^:]/g, '').length >= 2 && s !== '::';
}

export type ValidatorName = 'luhn' | 'card' | 'iban' | 'ssn' | 'itin' | 'nino' | 'aba' | 'aadhaar' | 'codicefiscale' | 'dni' | 'cpf' | 'cnid' | 'nric' | 'curp' | 'nir' | 'bsn' | 'detaxid' | 'pesel' | 'personnummer' | 'phone' | 'phonelike' | 'email' | 'jwt' | 'ip';

export const VALIDATORS: Record<ValidatorName, (s: string) => boolean> = {
  luhn,
  card,
  iban,
  ssn,
  itin,
  nino,
  aba,
  aadhaar,
  codicefiscale,
  dni,
  cpf,
  cnid,
  nric,
  curp,
  nir,
  bsn,
  detaxid,
  pesel,
  personnummer,
  phone: (s) => phone(s),
  phonelike,
  email,
  jwt,
  ip,
};
