/**
 * nginx's time variables ($time_local, $time_iso8601, $msec), for http (the time of the request's
 * log line: now) and stream (the session's end). Formatted at most once per second: a busy
 * access log reads the same second thousands of times.
 */

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad2 = (n: number): string => (n < 10 ? '0' : '') + n;

function tzOffset(d: Date, sep: string): string {
  const off = -d.getTimezoneOffset();
  const a = Math.abs(off);
  return (off < 0 ? '-' : '+') + pad2(Math.floor(a / 60)) + sep + pad2(a % 60);
}

/** "27/Nov/2026:14:45:36 +0000" (local time, as nginx). */
export function formatTimeLocal(d: Date): string {
  return `${pad2(d.getDate())}/${MONTHS[d.getMonth()]}/${d.getFullYear()}:${pad2(d.getHours())}:`
    + `${pad2(d.getMinutes())}:${pad2(d.getSeconds())} ${tzOffset(d, '')}`;
}

/** "2026-11-27T14:45:36+00:00" */
export function formatTimeIso8601(d: Date): string {
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}T${pad2(d.getHours())}:`
    + `${pad2(d.getMinutes())}:${pad2(d.getSeconds())}${tzOffset(d, ':')}`;
}

/** One formatted second, kept until another second is asked for. */
class SecondCache {
  #second = NaN;
  #text = '';
  readonly #format: (d: Date) => string;

  constructor(format: (d: Date) => string) {
    this.#format = format;
  }

  at(ms: number): string {
    const sec = Math.floor(ms / 1000);
    if (sec !== this.#second) {
      this.#second = sec;
      this.#text = this.#format(new Date(sec * 1000));
    }
    return this.#text;
  }
}

const local = new SecondCache(formatTimeLocal);
const iso = new SecondCache(formatTimeIso8601);

/** $time_local of an epoch-ms time. */
export function timeLocal(ms: number): string {
  return local.at(ms);
}

/** $time_iso8601 of an epoch-ms time. */
export function timeIso8601(ms: number): string {
  return iso.at(ms);
}
