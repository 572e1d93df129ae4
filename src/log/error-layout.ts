/**
 * nginx's error-log text layout, rendered from a log call's level, context object and message:
 *
 *   2026/12/02 05:20:31 [error] 1234#0: *5 connect() failed (111: Connection refused) while
 *   connecting to upstream, client: 127.0.0.1, server: _, request: "GET / HTTP/1.1",
 *   upstream: "http://127.0.0.1:1/", host: "localhost"
 *
 * (one line). Operators' tools parse exactly this (fail2ban's nginx filters, logwatch), so the
 * nginx context keys come first in nginx's order and with nginx's quoting; any other context key
 * follows in the same `, key: value` form. `connection` becomes the `*N` prefix; `code` (the
 * TSP_ERR_* registry code) is for machines and only appears in the JSON layout.
 */
import { levelName } from './levels.js';

/** nginx's context keys, in the order ngx_http_log_error prints them; true: the value is quoted. */
const NGINX_KEYS: readonly (readonly [string, boolean])[] = [
  // a UDP stream session's client (nginx: "udp client: 127.0.0.1")
  ['udp client', false],
  ['client', false],
  ['server', false],
  ['request', true],
  ['subrequest', true],
  ['upstream', true],
  ['host', true],
  ['referrer', true],
];

const SKIPPED = new Set(['connection', 'code', 'msg', ...NGINX_KEYS.map(([k]) => k)]);

let cachedSecond = -1;
let cachedTime = '';

/** Local time as nginx writes it ("2026/12/02 05:20:31"), formatted once per second. */
function timeText(nowMs: number): string {
  const second = Math.floor(nowMs / 1000);
  if (second !== cachedSecond) {
    const d = new Date(nowMs);
    const p = (n: number) => (n < 10 ? `0${n}` : String(n));
    cachedTime = `${d.getFullYear()}/${p(d.getMonth() + 1)}/${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
    cachedSecond = second;
  }
  return cachedTime;
}

const UNSAFE = /[\x00-\x1f\x7f"\\]/g;
const NEEDS_QUOTES = /[\x00-\x1f\x7f",\\]|^$|^ | $/;

function escapeChar(c: string): string {
  if (c === '"' || c === '\\') return `\\${c}`;
  return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
}

/** A log line stays one line whatever a peer sent: control characters become \xHH. */
function oneLine(s: string): string {
  return s.replace(/[\x00-\x1f\x7f]/g, escapeChar);
}

function quoted(s: string): string {
  return `"${s.replace(UNSAFE, escapeChar)}"`;
}

function valueText(v: unknown): string {
  if (typeof v === 'string') return NEEDS_QUOTES.test(v) ? quoted(v) : v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (v === null) return '-';
  if (v instanceof Error) return quoted(v.message);
  return oneLine(JSON.stringify(v) ?? String(v));
}

/** One error-log line (with its newline) in nginx's layout. */
export function formatErrorLine(levelValue: number, obj: Readonly<Record<string, unknown>>, msg: string | undefined, pid: number, nowMs: number): string {
  let line = `${timeText(nowMs)} [${levelName(levelValue)}] ${pid}#0: `;
  const connection = obj['connection'];
  if (typeof connection === 'number') line += `*${connection} `;
  line += oneLine(msg ?? '');
  for (const [key, quote] of NGINX_KEYS) {
    const v = obj[key];
    if (v !== undefined) line += `, ${key}: ${quote ? quoted(String(v)) : oneLine(String(v))}`;
  }
  for (const key in obj) {
    if (SKIPPED.has(key)) continue;
    const v = obj[key];
    if (v === undefined) continue;
    line += key === 'err' ? `, error: ${v instanceof Error ? quoted(v.message) : valueText(v)}` : `, ${key}: ${valueText(v)}`;
  }
  return `${line}\n`;
}
