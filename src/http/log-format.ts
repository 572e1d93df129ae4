/**
 * Access log lines (nginx ngx_http_log_module): `log_format` templates compiled once, with the
 * variable parts escaped (never the literal parts). With escape=default an unset variable prints
 * "-" (nginx's not_found); with json and none it prints nothing. Checked against nginx 1.22.
 */
import type { LogFormatConfig } from '../config/types.js';
import { parseTemplate } from '../config/template.js';
import { captureGetter, variableGetter, type CompiledMaps, type Getter, type RequestInfo } from './variables.js';

export const COMBINED_FORMAT =
  '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"';

/** Variables nginx reports as found even when their value is empty. */
const EMPTY_IS_SET: ReadonlySet<string> = new Set(['is_args', 'https']);

export type LogFormatter = (r: RequestInfo) => string;

const HEX = '0123456789ABCDEF';

function hexByte(b: number): string {
  return '\\x' + HEX[b >> 4]! + HEX[b & 15]!;
}

// eslint-disable-next-line no-control-regex
const NEEDS_DEFAULT_ESCAPE = /["\\\x00-\x1f\x7f-\uffff]/;

/** nginx escape=default: `"`, `\`, control and non-ASCII bytes (UTF-8) as \xHH. */
export function escapeDefault(s: string): string {
  if (!NEEDS_DEFAULT_ESCAPE.test(s)) return s;
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c === 0x22 || c === 0x5c || c < 0x20) out += hexByte(c);
    else if (c < 0x7f) out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += hexByte(b);
  }
  return out;
}

// eslint-disable-next-line no-control-regex
const NEEDS_JSON_ESCAPE = /["\\\x00-\x1f]/;

/** escape=json: the body of a JSON string (without quotes). */
export function escapeJson(s: string): string {
  if (!NEEDS_JSON_ESCAPE.test(s)) return s;
  return JSON.stringify(s).slice(1, -1);
}

/**
 * Compile a log_format. Throws UnknownVariableError / TemplateSyntaxError as compileTemplate.
 * `maps` makes `map` variables available, `declared` names set by `set`.
 */
export function compileLogFormat(
  fmt: Pick<LogFormatConfig, 'template' | 'escape'>,
  ctx?: { maps?: CompiledMaps; declared?: ReadonlySet<string> },
): LogFormatter {
  const escape = fmt.escape;
  const wrapped: (string | Getter)[] = parseTemplate(fmt.template).map((part) => {
    if (part.kind === 'literal') return part.text;
    const p: Getter = part.kind === 'capture'
      ? captureGetter(part.index)
      : variableGetter(part.name, ctx);
    if (escape === 'json') return (r: RequestInfo) => escapeJson(p(r));
    if (escape === 'none') return p;
    // nginx tells "unset" from "set to empty"; our getters return '' for both, so the few
    // variables that are legitimately empty are listed, and set/map values count as set
    const emptyIsSet = part.kind === 'variable'
      && (EMPTY_IS_SET.has(part.name) || ctx?.maps?.has(part.name) === true || ctx?.declared?.has(part.name) === true);
    if (emptyIsSet) return (r: RequestInfo) => escapeDefault(p(r));
    return (r: RequestInfo) => {
      const v = p(r);
      return v === '' ? '-' : escapeDefault(v);
    };
  });
  return (r) => {
    let s = '';
    for (let i = 0; i < wrapped.length; i++) {
      const p = wrapped[i]!;
      s += typeof p === 'string' ? p : p(r);
    }
    return s;
  };
}

/** Every log_format by name, with the predefined "combined" unless the config redefines it. */
export function compileLogFormats(
  formats: readonly LogFormatConfig[],
  ctx?: { maps?: CompiledMaps; declared?: ReadonlySet<string> },
): Map<string, LogFormatter> {
  const out = new Map<string, LogFormatter>();
  out.set('combined', compileLogFormat({ template: COMBINED_FORMAT, escape: 'default' }, ctx));
  for (const f of formats) out.set(f.name, compileLogFormat(f, ctx));
  return out;
}
