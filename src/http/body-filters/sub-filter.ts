/**
 * sub_filter (ngx_http_sub_filter_module): strings replaced in a streamed body. Matching is on
 * bytes, ASCII case-insensitive (nginx lowercases both sides); at each place the first rule (in
 * config order) that matches there wins; with sub_filter_once each rule replaces its first match
 * only. Bytes at the end of a piece that may begin a match are held until the next piece (or the
 * end), so a match spanning two pieces is found.
 */
import type { SubFilterSettings } from '../../config/types.js';
import type { CompiledTemplate } from '../variables.js';
import type { HttpRequest } from '../request.js';

export interface SubFilterPlan {
  readonly settings: SubFilterSettings;
  /** The search strings as lowercased bytes, in config order. */
  readonly matches: readonly Buffer[];
  readonly replacements: readonly CompiledTemplate[];
  /** Lowercased first bytes of the search strings: most places are skipped at one lookup. */
  readonly firstBytes: Uint8Array;
  readonly anyType: boolean;
  readonly types: ReadonlySet<string>;
}

function lower(b: number): number {
  return b >= 0x41 && b <= 0x5a ? b | 0x20 : b;
}

export function compileSubFilter(settings: SubFilterSettings, tc: (t: string) => CompiledTemplate): SubFilterPlan {
  const matches = settings.rules.map((rule) => {
    const bytes = Buffer.from(rule.match, 'utf8');
    for (let i = 0; i < bytes.length; i++) bytes[i] = lower(bytes[i]!);
    return bytes;
  });
  const firstBytes = new Uint8Array(256);
  for (const m of matches) firstBytes[m[0]!] = 1;
  return {
    settings, matches, replacements: settings.rules.map((rule) => tc(rule.replacement)), firstBytes,
    anyType: settings.types.includes('*'), types: new Set(settings.types),
  };
}

const EMPTY = Buffer.alloc(0);

/** One response's replacer. */
export class SubFilterStage {
  readonly #plan: SubFilterPlan;
  /** The replacements, evaluated once per response (nginx evaluates them per response too). */
  readonly #replacements: Buffer[];
  /** sub_filter_once: rules that matched already; null when off. */
  readonly #used: boolean[] | null;
  #rulesLeft: number;
  /** Bytes held from the previous piece: they may begin a match (a copy). */
  #held: Buffer | null = null;

  constructor(plan: SubFilterPlan, r: HttpRequest) {
    this.#plan = plan;
    this.#replacements = plan.replacements.map((t) => Buffer.from(t(r), 'utf8'));
    this.#used = plan.settings.once ? plan.matches.map(() => false) : null;
    this.#rulesLeft = plan.matches.length;
  }

  push(data: Buffer): Buffer {
    const held = this.#held;
    this.#held = null;
    const buf = held === null ? data : Buffer.concat([held, data]);
    if (this.#rulesLeft === 0) return buf;
    const { matches, firstBytes } = this.#plan;
    const used = this.#used;
    let parts: Buffer[] | null = null;
    let from = 0;
    const n = buf.length;
    let i = 0;
    scan: while (i < n) {
      if (firstBytes[lower(buf[i]!)] === 0) {
        i++;
        continue;
      }
      let partial = false;
      for (let k = 0; k < matches.length; k++) {
        if (used !== null && used[k]) continue;
        const m = matches[k]!;
        const avail = Math.min(m.length, n - i);
        let j = 0;
        while (j < avail && lower(buf[i + j]!) === m[j]) j++;
        if (j < avail) continue;
        if (avail < m.length) {
          partial = true;
          continue;
        }
        (parts ??= []).push(buf.subarray(from, i), this.#replacements[k]!);
        i += m.length;
        from = i;
        if (used !== null) {
          used[k] = true;
          if (--this.#rulesLeft === 0) break scan;
        }
        continue scan;
      }
      if (partial) {
        // The rest may begin a match: held until more bytes come (copied: `data` may be a reused read buffer).
        this.#held = Buffer.from(buf.subarray(i));
        break;
      }
      i++;
    }
    const end = this.#held === null ? n : i;
    if (parts === null) return from === 0 && end === n ? buf : buf.subarray(from, end);
    parts.push(buf.subarray(from, end));
    return Buffer.concat(parts);
  }

  /** The end of the body: what was held goes out as it is. */
  finish(): Buffer {
    const held = this.#held;
    this.#held = null;
    return held ?? EMPTY;
  }
}
