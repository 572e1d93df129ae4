/**
 * --explain names directives by the text the operator wrote: the config's source files, read
 * at load (LoadResult.sources), give a directive's line and a block's whole text.
 */
import path from 'node:path';
import type { Loc } from '../../errors.js';
import type { HttpConfig } from '../../config/types.js';

export interface Sources {
  readonly files: readonly { readonly file: string; readonly text: string }[];
  /** The directory places are written relative to. */
  readonly base: string;
}

/** "conf/site.conf:12". */
export function placeOf(src: Sources, loc: Loc): string {
  const rel = path.relative(src.base, loc.file);
  return `${rel === '' || rel.startsWith('..') ? loc.file : rel}:${loc.line}`;
}

function textOf(src: Sources, file: string): string | null {
  return src.files.find((f) => f.file === file)?.text ?? null;
}

function offsetOf(text: string, loc: Loc): number {
  let off = 0;
  for (let line = 1; line < loc.line; line++) {
    const nl = text.indexOf('\n', off);
    if (nl === -1) return text.length;
    off = nl + 1;
  }
  return off + Math.max(0, loc.column - 1);
}

/** The directive written at `loc`, up to its `;` or `{` ("rewrite ^/a/(.*)$ /b/$1 last"). */
export function directiveAt(src: Sources, loc: Loc): string {
  const text = textOf(src, loc.file);
  if (text === null) return '';
  const start = offsetOf(text, loc);
  let end = start;
  let quote = '';
  for (; end < text.length; end++) {
    const c = text[end]!;
    if (quote !== '') {
      if (c === '\\') end++;
      else if (c === quote) quote = '';
    } else if (c === '"' || c === "'") quote = c;
    else if (c === ';' || c === '{') break;
  }
  return text.slice(start, end).replace(/\s+/g, ' ').trim();
}

/** The whole text of the block whose directive starts at `loc` (braces matched, quotes and comments skipped). */
export function blockAt(src: Sources, loc: Loc): string {
  const text = textOf(src, loc.file);
  if (text === null) return '';
  const start = offsetOf(text, loc);
  let depth = 0;
  let quote = '';
  for (let i = start; i < text.length; i++) {
    const c = text[i]!;
    if (quote !== '') {
      if (c === '\\') i++;
      else if (c === quote) quote = '';
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#') {
      const nl = text.indexOf('\n', i);
      i = nl === -1 ? text.length : nl;
    } else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return text.slice(start, i + 1);
  }
  return text.slice(start);
}

const VARIABLE = /\$\{?([A-Za-z_][A-Za-z0-9_]*)/g;

/** Variables always shown: what routing reads. */
const ROUTING_VARIABLES = ['host', 'uri', 'args', 'request_uri', 'scheme', 'server_name', 'remote_addr'];

/**
 * The variables `text` names, and through map / split_clients the ones those read, in first-seen
 * order after the routing ones.
 */
export function variablesIn(text: string, http: Pick<HttpConfig, 'maps' | 'splitClients'> | null): string[] {
  const out = new Set<string>(ROUTING_VARIABLES);
  const derived = new Map<string, string>();
  for (const m of http?.maps ?? []) derived.set(m.variable, m.source);
  for (const s of http?.splitClients ?? []) derived.set(s.variable, s.key);
  const add = (t: string): void => {
    for (const m of t.matchAll(VARIABLE)) {
      const name = m[1]!;
      if (/^\d/.test(name) || out.has(name)) continue;
      out.add(name);
      const source = derived.get(name);
      if (source !== undefined) add(source);
    }
  };
  add(text);
  return [...out];
}
