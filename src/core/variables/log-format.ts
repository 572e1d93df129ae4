/**
 * Access log lines (nginx ngx_http_log_module / ngx_stream_log_module): `log_format` templates
 * compiled once, with the variable parts escaped (never the literal parts). With escape=default an
 * unset variable prints "-" (nginx's not_found); with json and none it prints nothing; a value
 * that is set but empty (a map's "", `$is_args`) prints nothing in every mode. Checked against
 * nginx 1.22, http and stream.
 */
import type { LogFormatConfig } from '../../config/types.js';
import { parseTemplate } from '../../config/template.js';
import { captureGetter, joinParts, variableGetter, type Getter, type TemplateScope, type VariableScope, type VariableTable } from './template.js';

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
 * Compile a log_format over a protocol's variables. Throws UnknownVariableError /
 * TemplateSyntaxError as compileTemplate. `lineEnd` is appended as a literal (stream lines carry
 * their newline; http's sinks add it).
 */
export function compileLogFormat<C extends VariableScope>(
  fmt: Pick<LogFormatConfig, 'template' | 'escape'>,
  table: VariableTable<C>,
  scope?: TemplateScope<C>,
  lineEnd = '',
): (c: C) => string {
  const escape = fmt.escape;
  const parts: (string | Getter<C>)[] = parseTemplate(fmt.template).map((part) => {
    if (part.kind === 'literal') return part.text;
    const p: Getter<C> = part.kind === 'capture' ? captureGetter<C>(part.index) : variableGetter(part.name, table, scope);
    if (escape === 'json') return (c: C) => escapeJson(p(c));
    if (escape === 'none') return p;
    // nginx tells "unset" from "set to empty"; getters return '' for both, so the few built-ins
    // that are legitimately empty are listed, and set/map/capture values count as set
    const emptyIsSet = part.kind === 'variable'
      && (table.emptyIsSet.has(part.name) || scope?.maps?.has(part.name) === true || scope?.declared?.has(part.name) === true);
    if (emptyIsSet) return (c: C) => escapeDefault(p(c));
    return (c: C) => {
      const v = p(c);
      return v === '' ? '-' : escapeDefault(v);
    };
  });
  const last = parts[parts.length - 1];
  if (typeof last === 'string') parts[parts.length - 1] = last + lineEnd;
  else if (lineEnd !== '') parts.push(lineEnd);
  return joinParts(parts);
}
