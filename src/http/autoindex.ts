/**
 * `autoindex on`: the listing of a directory without an index file, in nginx's layouts (checked
 * with ask-nginx, nginx 1.22): directories first, then files, each group sorted by name; names
 * starting with "." left out; html with 50-column names ("..>" cut), dd-Mon-yyyy HH:MM times (UTC
 * unless autoindex_localtime) and sizes exact or rounded to K/M/G (autoindex_exact_size off);
 * json as an array of { name, type, mtime, size }. Read with fs.promises (thread pool).
 */
import { opendir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { FileSettings } from '../config/types.js';
import { NO_FIELDS, type LocalResponse } from './respond.js';

interface Entry {
  readonly name: string;
  readonly dir: boolean;
  readonly mtimeMs: number;
  readonly size: number;
}

async function readEntries(dir: string): Promise<Entry[]> {
  const out: Entry[] = [];
  const d = await opendir(dir);
  for await (const e of d) {
    if (e.name.startsWith('.')) continue;
    try {
      // stat follows symbolic links, as nginx does.
      const st = await stat(path.join(dir, e.name));
      out.push({ name: e.name, dir: st.isDirectory(), mtimeMs: st.mtimeMs, size: st.size });
    } catch {
      // vanished meanwhile, or a dangling link: nginx leaves it out too
    }
  }
  out.sort((a, b) => (a.dir !== b.dir ? (a.dir ? -1 : 1) : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return out;
}

const HTML_ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' };

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => HTML_ESCAPES[c]!);
}

/** nginx ngx_escape_uri(NGX_ESCAPE_HTML): space, controls, non-ASCII and " # % & ' < > ? as %XX. */
function escapeHref(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    out += b <= 0x20 || b >= 0x7f || '"#%&\'<>?'.includes(c) ? `%${b.toString(16).toUpperCase().padStart(2, '0')}` : c;
  }
  return out;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number): string => (n < 10 ? `0${n}` : `${n}`);

function listingTime(ms: number, local: boolean): string {
  const d = new Date(ms);
  return local
    ? `${two(d.getDate())}-${MONTHS[d.getMonth()]}-${d.getFullYear()} ${two(d.getHours())}:${two(d.getMinutes())}`
    : `${two(d.getUTCDate())}-${MONTHS[d.getUTCMonth()]}-${d.getUTCFullYear()} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}`;
}

const GIB = 1024 * 1024 * 1024;
const MIB = 1024 * 1024;

/** The size column without the exact size (nginx's rounding). */
function roundedSize(n: number): string {
  if (n > GIB - 1) return `${(Math.floor(n / GIB) + (n % GIB > GIB / 2 - 1 ? 1 : 0)).toString().padStart(6)}G`;
  if (n > MIB - 1) return `${(Math.floor(n / MIB) + (n % MIB > MIB / 2 - 1 ? 1 : 0)).toString().padStart(6)}M`;
  if (n > 9999) return `${(Math.floor(n / 1024) + (n % 1024 > 511 ? 1 : 0)).toString().padStart(6)}K`;
  return ` ${n.toString().padStart(6)}`;
}

const NAME_WIDTH = 50;

function html(uri: string, entries: readonly Entry[], files: FileSettings): string {
  const title = escapeHtml(uri);
  let out = `<html>\r\n<head><title>Index of ${title}</title></head>\r\n<body>\r\n<h1>Index of ${title}</h1><hr><pre><a href="../">../</a>\r\n`;
  for (const e of entries) {
    const name = e.dir ? `${e.name}/` : e.name;
    const chars = Array.from(name);
    const shown = chars.length > NAME_WIDTH ? `${escapeHtml(chars.slice(0, NAME_WIDTH - 3).join(''))}..&gt;` : escapeHtml(name);
    const pad = chars.length > NAME_WIDTH ? 1 : NAME_WIDTH + 1 - chars.length;
    const size = files.autoindexExactSize ? ` ${(e.dir ? '-' : `${e.size}`).padStart(19)}` : e.dir ? `       -` : ` ${roundedSize(e.size).padStart(7)}`;
    out += `<a href="${escapeHref(e.name)}${e.dir ? '/' : ''}">${shown}</a>${' '.repeat(pad)}${listingTime(e.mtimeMs, files.autoindexLocaltime)}${size}\r\n`;
  }
  return `${out}</pre><hr></body>\r\n</html>\r\n`;
}

function json(entries: readonly Entry[]): string {
  const items = entries.map((e) => {
    const base = `{ "name":${JSON.stringify(e.name)}, "type":"${e.dir ? 'directory' : 'file'}", "mtime":"${new Date(Math.floor(e.mtimeMs / 1000) * 1000).toUTCString()}"`;
    return e.dir ? `${base} }` : `${base}, "size":${e.size} }`;
  });
  return `[\r\n${items.join(',\r\n')}\r\n]`;
}

/** The listing of `dir` (the request's `uri`) as a local answer. */
export async function autoindexResponse(dir: string, uri: string, files: FileSettings): Promise<LocalResponse> {
  const entries = await readEntries(dir);
  const asJson = files.autoindexFormat === 'json' || files.autoindexFormat === 'jsonp';
  return {
    status: 200,
    contentType: asJson ? 'application/json' : 'text/html',
    body: asJson ? json(entries) : html(uri, entries, files),
    headers: NO_FIELDS,
  };
}
