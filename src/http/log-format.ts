/**
 * http's access log formats: nginx's predefined "combined" and the config's `log_format`s,
 * compiled by the engine in core/variables/log-format.ts over http's variables.
 */
import type { LogFormatConfig } from '../config/types.js';
import { compileLogFormat as compileWith } from '../core/variables/log-format.js';
import { HTTP_VARIABLES, type RequestInfo, type TemplateContext } from './variables.js';

export const COMBINED_FORMAT =
  '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"';

export type LogFormatter = (r: RequestInfo) => string;

/**
 * Compile a log_format. Throws UnknownVariableError / TemplateSyntaxError as compileTemplate.
 * `maps` makes `map` variables available, `declared` names set by `set`.
 */
export function compileLogFormat(fmt: Pick<LogFormatConfig, 'template' | 'escape'>, ctx?: TemplateContext): LogFormatter {
  return compileWith(fmt, HTTP_VARIABLES, ctx);
}

/** Every log_format by name, with the predefined "combined" unless the config redefines it. */
export function compileLogFormats(formats: readonly LogFormatConfig[], ctx?: TemplateContext): Map<string, LogFormatter> {
  const out = new Map<string, LogFormatter>();
  out.set('combined', compileLogFormat({ template: COMBINED_FORMAT, escape: 'default' }, ctx));
  for (const f of formats) out.set(f.name, compileLogFormat(f, ctx));
  return out;
}
