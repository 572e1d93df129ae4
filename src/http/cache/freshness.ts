/**
 * Whether an upstream response may be stored, and until when it is fresh, as nginx 1.22 decides
 * (ngx_http_upstream's header handlers, checked with nginx): the fields are read in the order the
 * upstream sent them, each as its nginx handler does, then proxy_cache_valid fills in.
 *
 * - X-Accel-Expires: seconds from now, `@` absolute seconds since the epoch; 0 is "do not store";
 *   anything else not a number is ignored.
 * - Cache-Control (skipped when an X-Accel-Expires before it set the time): no-cache, no-store or
 *   private anywhere in it: not stored; s-maxage= (else max-age=) of 0 or not a number: not
 *   stored, else seconds from now.
 * - Expires (skipped when a time is set already): a date that does not parse or is past: not stored.
 * - Set-Cookie: not stored. Vary: `*` (or longer than 128 bytes): not stored.
 * - Only a buffered response is stored: proxy_buffering off, or X-Accel-Buffering: no, is never
 *   stored (X-Accel-Buffering: yes turns buffering on).
 * - No time from the fields: proxy_cache_valid's for the status (first rule that names it or
 *   `any`), none: not stored.
 * proxy_ignore_headers turns a field's handler off.
 */
import type { CacheValidRule } from '../../config/cache-types.js';
import type { ResponseHead } from '../../wire/http1-response.js';

/** proxy_ignore_headers bits of the fields that matter here. */
export const IGNORE_X_ACCEL_EXPIRES = 1;
export const IGNORE_CACHE_CONTROL = 2;
export const IGNORE_EXPIRES = 4;
export const IGNORE_SET_COOKIE = 8;
export const IGNORE_VARY = 16;
export const IGNORE_X_ACCEL_BUFFERING = 32;

export function ignoreBits(names: readonly string[]): number {
  let bits = 0;
  for (const n of names) {
    if (n === 'x-accel-expires') bits |= IGNORE_X_ACCEL_EXPIRES;
    else if (n === 'cache-control') bits |= IGNORE_CACHE_CONTROL;
    else if (n === 'expires') bits |= IGNORE_EXPIRES;
    else if (n === 'set-cookie') bits |= IGNORE_SET_COOKIE;
    else if (n === 'vary') bits |= IGNORE_VARY;
    else if (n === 'x-accel-buffering') bits |= IGNORE_X_ACCEL_BUFFERING;
  }
  return bits;
}

/** nginx's NGX_HTTP_CACHE_VARY_LEN. */
const MAX_VARY_BYTES = 128;

/** What storing decided: the second the entry stays fresh through (0: not stored) and the Vary value. */
export interface Storable {
  validSec: number;
  vary: string;
}

/** ngx_atoi: digits only, else -1. */
function atoi(s: string): number {
  return /^\d+$/.test(s) ? Number(s) : -1;
}

/** s-maxage= (else max-age=) in a Cache-Control value: its seconds, 0 when absent, -1 when not a number. */
function maxAge(lower: string): number {
  let at = lower.indexOf('s-maxage=');
  let offset = 9;
  if (at < 0) {
    at = lower.indexOf('max-age=');
    offset = 8;
  }
  if (at < 0) return 0;
  let n = 0;
  for (let i = at + offset; i < lower.length; i++) {
    const c = lower.charCodeAt(i);
    if (c === 0x2c || c === 0x3b || c === 0x20) break;
    if (c < 0x30 || c > 0x39) return -1;
    n = n * 10 + (c - 0x30);
  }
  return n === 0 ? -1 : n;
}

/** The seconds proxy_cache_valid gives `status`, 0 for none. */
export function validFor(rules: readonly CacheValidRule[], status: number): number {
  for (const rule of rules) {
    for (const s of rule.statuses) if (s === 0 || s === status) return Math.floor(rule.ms / 1000);
  }
  return 0;
}

/** Whether `res` may be stored and until when (`nowMs`: the time its head arrived; `buffering`: proxy_buffering). */
export function storable(res: ResponseHead, ignore: number, rules: readonly CacheValidRule[], nowMs: number, buffering = true): Storable {
  const now = Math.floor(nowMs / 1000);
  const out: Storable = { validSec: 0, vary: '' };
  let cacheable = true;
  let validSec = 0;
  let accelExpires = false;
  const lnames = res.lnames;
  const headers = res.headers;
  for (let k = 0; k < lnames.length; k++) {
    const value = headers[2 * k + 1]!;
    switch (lnames[k]) {
      case 'x-accel-expires': {
        accelExpires = true;
        if (ignore & IGNORE_X_ACCEL_EXPIRES) break;
        if (value.startsWith('@')) {
          const n = atoi(value.slice(1));
          if (n >= 0) validSec = n;
        } else {
          const n = atoi(value);
          if (n === 0) cacheable = false;
          else if (n > 0) validSec = now + n;
        }
        break;
      }
      case 'cache-control': {
        if (ignore & IGNORE_CACHE_CONTROL || (validSec !== 0 && accelExpires)) break;
        const lower = value.toLowerCase();
        if (lower.includes('no-cache') || lower.includes('no-store') || lower.includes('private')) {
          cacheable = false;
          break;
        }
        const n = maxAge(lower);
        if (n < 0) cacheable = false;
        else if (n > 0) validSec = now + n;
        break;
      }
      case 'expires': {
        if (ignore & IGNORE_EXPIRES || validSec !== 0) break;
        const ms = Date.parse(value);
        if (Number.isNaN(ms) || ms < now * 1000) cacheable = false;
        else validSec = Math.floor(ms / 1000);
        break;
      }
      case 'set-cookie':
        if (!(ignore & IGNORE_SET_COOKIE)) cacheable = false;
        break;
      case 'x-accel-buffering': {
        if (ignore & IGNORE_X_ACCEL_BUFFERING) break;
        const v = value.toLowerCase();
        if (v === 'yes') buffering = true;
        else if (v === 'no') buffering = false;
        break;
      }
      case 'vary':
        if (ignore & IGNORE_VARY) break;
        if (value.trim() === '*' || value.length > MAX_VARY_BYTES) cacheable = false;
        else out.vary = out.vary === '' ? value : `${out.vary},${value}`;
        break;
    }
  }
  if (!cacheable || !buffering) return out;
  if (validSec === 0) {
    const valid = validFor(rules, res.status);
    if (valid > 0) validSec = now + valid;
  }
  out.validSec = validSec;
  return out;
}
