/**
 * The problems of one severity a build reports: one per position and message, with a count. A
 * file included at 21 places is expanded 21 times and says the same thing at the same position
 * each time; it is reported once, "(and 20 more times)". Repeats are counted past the cap of
 * reported problems (MAX_REPORTED_ERRORS distinct ones, +1 so load.ts says "too many errors").
 */
import { ConfigError, type ErrorCode, type Loc, type Severity } from '../errors.js';
import { MAX_REPORTED_ERRORS } from './limits.js';

interface Entry {
  readonly code: ErrorCode;
  readonly message: string;
  readonly loc: Loc;
  count: number;
}

export class ProblemList {
  readonly #severity: Severity;
  readonly #entries: Entry[] = [];
  readonly #byKey = new Map<string, Entry>();

  constructor(severity: Severity) {
    this.#severity = severity;
  }

  add(code: ErrorCode, message: string, loc: Loc): void {
    const key = `${loc.file}\0${loc.line}\0${loc.column}\0${message}`;
    const seen = this.#byKey.get(key);
    if (seen !== undefined) {
      seen.count++;
      return;
    }
    if (this.#entries.length > MAX_REPORTED_ERRORS) return;
    const entry: Entry = { code, message, loc, count: 1 };
    this.#entries.push(entry);
    this.#byKey.set(key, entry);
  }

  /** Distinct problems kept. */
  get size(): number {
    return this.#entries.length;
  }

  list(): ConfigError[] {
    return this.#entries.map((e) => {
      const more = e.count - 1;
      const message = more === 0 ? e.message : `${e.message} (and ${more} more time${more === 1 ? '' : 's'})`;
      return new ConfigError(e.code, message, e.loc, this.#severity);
    });
  }
}
