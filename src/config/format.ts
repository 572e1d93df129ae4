/**
 * Human display of config errors, nginx's first line plus the source line and a caret:
 *
 *   tsproxy: [emerg] unknown directive "proxy_pas" in /etc/tsproxy/tsproxy.conf:12:9
 *       proxy_pas http://app;
 *       ^^^^^^^^^
 */
import type { ConfigError } from '../errors.js';

export interface SourceText {
  readonly file: string;
  readonly text: string;
}

/**
 * nginx's message text: `<message> in <file>:<line>:<col>`, or the message alone for an error
 * with no position in a file (line 0: the main config file cannot be opened).
 */
export function configErrorText(err: ConfigError): string {
  const { file, line, column } = err.loc;
  return line > 0 ? `${err.message} in ${file}:${line}:${column}` : err.message;
}

/** Longest stretch of a source line shown under an error. */
const MAX_SHOWN_LINE = 240;

export function formatConfigError(err: ConfigError, sources: readonly SourceText[]): string {
  const { file, line } = err.loc;
  const head = `tsproxy: [${err.severity}] ${configErrorText(err)}`;
  const source = sources.find((s) => s.file === file);
  if (source === undefined) return head;
  const whole = sourceLine(source.text, line);
  if (whole === null) return head;
  // A line of random bytes may be megabytes long: show a window that starts a little before the column.
  const from = whole.length <= MAX_SHOWN_LINE ? 0 : Math.max(0, Math.min(err.loc.column - 1 - 60, whole.length - MAX_SHOWN_LINE));
  const text = whole.length <= MAX_SHOWN_LINE ? whole : whole.slice(from, from + MAX_SHOWN_LINE);
  const column = err.loc.column - from;
  // Keep tabs in the caret's indent so it lines up however wide the terminal draws a tab.
  const indent = text.slice(0, Math.max(0, column - 1)).replace(/[^\t]/g, ' ');
  const pad = column - 1 > text.length ? ' '.repeat(column - 1 - text.length) : '';
  const room = Math.max(1, text.length - (column - 1));
  const length = Math.min(Math.max(1, err.loc.length ?? 1), room);
  return `${head}\n${text}\n${indent}${pad}${'^'.repeat(length)}`;
}

/** Line `n` (1-based) without its line terminator, or null when the text has no such line. */
function sourceLine(text: string, n: number): string | null {
  if (n < 1) return null;
  let start = 0;
  for (let i = 1; i < n; i++) {
    const nl = text.indexOf('\n', start);
    if (nl < 0) return null;
    start = nl + 1;
  }
  let end = text.indexOf('\n', start);
  if (end < 0) end = text.length;
  if (end > start && text[end - 1] === '\r') end--;
  return text.slice(start, end);
}
