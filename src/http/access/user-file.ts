/**
 * htpasswd files of auth_basic_user_file, read asynchronously and kept parsed (user → hash).
 *
 * nginx opens and scans the file on every request, so an edit applies at once. Doing the same
 * here would be a read per request; instead a file's entry is trusted for one second, then the
 * next request that needs it stats the file (asynchronously; concurrent requests wait for the
 * same stat) and reads it again only when its modification time or size changed. So an edit
 * applies within a second, a request never does synchronous I/O, and a busy protected site
 * pays one stat per second per file. Why not the config watcher: the file is not part of the
 * config (nginx reads it at request time, a missing file is a 403, not a -t error), and its
 * path may hold variables.
 *
 * Parsing follows nginx's scanner: a line starting with `#` (or CR) is skipped, the user name is
 * everything before the first `:`, the hash ends at CR, LF or the next `:`; the first line of a
 * user wins.
 */
import { promises as fs } from 'node:fs';

/** Trust a read file this long before looking at it again. */
const FRESH_MS = 1000;
/** Files remembered (paths with variables could name many): the oldest is dropped past this. */
const MAX_FILES = 256;

export type UserFileResult =
  | { readonly ok: true; readonly users: ReadonlyMap<string, string> }
  | { readonly ok: false; readonly error: NodeJS.ErrnoException; readonly syscall: string };

interface Entry {
  result: UserFileResult | null;
  checkedAt: number;
  mtimeMs: number;
  size: number;
  pending: Promise<UserFileResult> | null;
}

const files = new Map<string, Entry>();

export function parseUserFile(text: string): Map<string, string> {
  const users = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.charCodeAt(0) === 0x23 || line.charCodeAt(0) === 0x0d) continue;
    const colon = line.indexOf(':');
    if (colon === -1) continue;
    const user = line.slice(0, colon);
    if (users.has(user)) continue;
    let end = colon + 1;
    while (end < line.length && line.charCodeAt(end) !== 0x3a && line.charCodeAt(end) !== 0x0d) end++;
    users.set(user, line.slice(colon + 1, end));
  }
  return users;
}

async function refresh(path: string, e: Entry): Promise<UserFileResult> {
  let syscall = 'open';
  try {
    const st = await fs.stat(path);
    if (e.result !== null && e.result.ok && st.mtimeMs === e.mtimeMs && st.size === e.size) return e.result;
    syscall = st.isDirectory() ? 'pread' : 'open';
    const text = await fs.readFile(path, 'latin1');
    e.mtimeMs = st.mtimeMs;
    e.size = st.size;
    return { ok: true, users: parseUserFile(text) };
  } catch (err) {
    return { ok: false, error: err as NodeJS.ErrnoException, syscall };
  }
}

/** The users of the file at `path` (absolute): at once when it was looked at less than a second ago. */
export function userFile(path: string, now: number): UserFileResult | Promise<UserFileResult> {
  let e = files.get(path);
  if (e === undefined) {
    if (files.size >= MAX_FILES) files.delete(files.keys().next().value!);
    e = { result: null, checkedAt: 0, mtimeMs: -1, size: -1, pending: null };
    files.set(path, e);
  }
  if (e.result !== null && now - e.checkedAt < FRESH_MS) return e.result;
  if (e.pending !== null) return e.pending;
  const entry = e;
  entry.pending = refresh(path, entry).then((result) => {
    entry.result = result;
    entry.checkedAt = Date.now();
    entry.pending = null;
    return result;
  });
  return entry.pending;
}
