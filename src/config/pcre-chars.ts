/**
 * Character sets for the PCRE translator (pcre.ts): what PCRE2's class escapes and POSIX classes
 * contain in the mode nginx uses (no UTF, default "C" tables, so ASCII only), and how a set of
 * code point ranges is written back into a JavaScript character class.
 */

/** Inclusive code point ranges, sorted or not. */
export type Ranges = [number, number][];

/** `\s`: PCRE2 includes VT since 8.34; JS's `\s` would also take U+00A0, U+FEFF and other Unicode spaces. */
export const SPACE: Ranges = [[0x09, 0x0d], [0x20, 0x20]];
/** `\h` (horizontal white space; non-UTF mode stops at 0xFF). */
export const HSPACE: Ranges = [[0x09, 0x09], [0x20, 0x20], [0xa0, 0xa0]];
/** `\v` (vertical white space; in JS `\v` is only VT). */
export const VSPACE: Ranges = [[0x0a, 0x0d], [0x85, 0x85]];

const DIGIT: Ranges = [[0x30, 0x39]];
const UPPER: Ranges = [[0x41, 0x5a]];
const LOWER: Ranges = [[0x61, 0x7a]];
const ALPHA: Ranges = [...UPPER, ...LOWER];

/** POSIX classes (`[[:alpha:]]`), "C" locale as PCRE2's default tables. */
export const POSIX: Readonly<Record<string, Ranges>> = {
  alpha: ALPHA,
  lower: LOWER,
  upper: UPPER,
  alnum: [...DIGIT, ...ALPHA],
  ascii: [[0x00, 0x7f]],
  blank: [[0x09, 0x09], [0x20, 0x20]],
  cntrl: [[0x00, 0x1f], [0x7f, 0x7f]],
  digit: DIGIT,
  graph: [[0x21, 0x7e]],
  print: [[0x20, 0x7e]],
  punct: [[0x21, 0x2f], [0x3a, 0x40], [0x5b, 0x60], [0x7b, 0x7e]],
  space: SPACE,
  word: [...DIGIT, ...ALPHA, [0x5f, 0x5f]],
  xdigit: [[0x30, 0x39], [0x41, 0x46], [0x61, 0x66]],
};

/** Sorted, merged copy. */
export function normalize(r: Ranges): Ranges {
  const s = r.map(([a, b]) => [a, b] as [number, number]).sort((x, y) => x[0] - y[0]);
  const out: Ranges = [];
  for (const [a, b] of s) {
    const last = out[out.length - 1];
    if (last !== undefined && a <= last[1] + 1) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

/** Everything in [0, max] that `r` does not contain. */
export function complement(r: Ranges, max: number): Ranges {
  const out: Ranges = [];
  let next = 0;
  for (const [a, b] of normalize(r)) {
    if (a > next) out.push([next, a - 1]);
    next = b + 1;
  }
  if (next <= max) out.push([next, max]);
  return out;
}

/** The ASCII other-case ranges of `r` (PCRE's default tables fold A-Z / a-z only). */
export function asciiOtherCase(r: Ranges): Ranges {
  const out: Ranges = [];
  for (const [a, b] of r) {
    const ua = Math.max(a, 0x41), ub = Math.min(b, 0x5a);
    if (ua <= ub) out.push([ua + 0x20, ub + 0x20]);
    const la = Math.max(a, 0x61), lb = Math.min(b, 0x7a);
    if (la <= lb) out.push([la - 0x20, lb - 0x20]);
  }
  return out;
}

function hex(n: number, width: number): string {
  return n.toString(16).toUpperCase().padStart(width, '0');
}

/** One code point as JS regex text, inside a class or not; valid with and without the `u` flag. */
export function charText(cp: number, inClass: boolean): string {
  if (cp > 0xffff) return `\\u{${hex(cp, 4)}}`;
  if (cp < 0x20 || (cp >= 0x7f && cp <= 0xa0) || (cp >= 0xd800 && cp <= 0xdfff) || cp === 0x2028 || cp === 0x2029) {
    return cp <= 0xff ? `\\x${hex(cp, 2)}` : `\\u${hex(cp, 4)}`;
  }
  const c = String.fromCharCode(cp);
  if (inClass ? '\\]^-['.includes(c) : '\\^$.|?*+()[]{}/'.includes(c)) return `\\${c}`;
  return c;
}

/** Ranges as the inside of a JS character class. */
export function rangesText(r: Ranges): string {
  let out = '';
  for (const [a, b] of normalize(r)) {
    out += charText(a, true);
    if (b === a + 1) out += charText(b, true);
    else if (b > a) out += `-${charText(b, true)}`;
  }
  return out;
}

/** PCRE2's general category names, which JS also takes bare in `\p{..}` (scripts need `Script=`). */
export const GENERAL_CATEGORIES: ReadonlySet<string> = new Set([
  'C', 'Cc', 'Cf', 'Cn', 'Co', 'Cs', 'L', 'Ll', 'Lm', 'Lo', 'Lt', 'Lu', 'M', 'Mc', 'Me', 'Mn',
  'N', 'Nd', 'Nl', 'No', 'P', 'Pc', 'Pd', 'Pe', 'Pf', 'Pi', 'Po', 'Ps', 'S', 'Sc', 'Sk', 'Sm', 'So',
  'Z', 'Zl', 'Zp', 'Zs',
]);

/** Properties whose meaning depends on case: a caseless JS regex would fold them, PCRE does not. */
export const CASED_PROPERTIES: ReadonlySet<string> = new Set(['Lu', 'Ll', 'Lt', 'L&', 'LC']);

/**
 * A PCRE `\p{name}` as JS class contents (no brackets), or null when unknown. `single` says the
 * text is one `\p{..}` (so `\P{..}` negates it anywhere); the PCRE2 specials are several items:
 * `L&` (cased letter), `Any`, `Xan` (alphanumeric), `Xsp`/`Xps` (space), `Xwd` (word).
 */
export function propertyText(name: string): { readonly text: string; readonly single: boolean } | null {
  if (GENERAL_CATEGORIES.has(name)) return { text: `\\p{${name}}`, single: true };
  switch (name) {
    case 'L&': case 'LC': return { text: '\\p{Lu}\\p{Ll}\\p{Lt}', single: false };
    case 'Any': return { text: '\\s\\S', single: false };
    case 'Xan': return { text: '\\p{L}\\p{N}', single: false };
    case 'Xsp': case 'Xps': return { text: '\\p{Z}\\t-\\r', single: false };
    case 'Xwd': return { text: '\\p{L}\\p{N}_', single: false };
    default: break;
  }
  if (!/^[A-Z][A-Za-z_]*$/.test(name)) return null;
  try {
    new RegExp(`\\p{Script=${name}}`, 'u');
    return { text: `\\p{Script=${name}}`, single: true };
  } catch {
    return null;
  }
}
