/**
 * `try_files file ... uri | =code` (nginx ngx_http_try_files_handler, precontent phase): each
 * name is mapped like a URI (root, or alias) and tested on disk; a name written with a trailing
 * "/" wants a directory, any other a file that is not a directory. The first found becomes $uri
 * and the location's content handler runs (no new location lookup). Else the last parameter:
 * `=code` answers with that status (error_page applies), `@name` goes to the named location, and a
 * URI is an internal redirect with the args of its own "?" part only (nginx drops the request's).
 *
 * The tests go to the thread pool (fs.promises.stat): the request waits, the event loop does not.
 */
import { stat } from 'node:fs/promises';
import type { TryFilesConfig } from '../config/types.js';
import { filePath } from './file-path.js';
import { continueAfterWait } from './phase-waits.js';
import type { LocationPlan } from './plan.js';
import type { HttpRequest } from './request.js';
import type { LocalResponse } from './respond.js';
import { holdBody } from './suspend.js';
import { splitTarget } from './uri.js';
import type { CompiledTemplate } from './variables.js';

export interface TryFilesPlan {
  readonly files: readonly { readonly name: CompiledTemplate; readonly dir: boolean }[];
  /** `=code` (> 0), else 0 and the template of a URI or `@name`. */
  readonly code: number;
  readonly fallback: CompiledTemplate | null;
}

export function compileTryFiles(cfg: TryFilesConfig | undefined, tc: (t: string) => CompiledTemplate): TryFilesPlan | null {
  if (cfg === undefined) return null;
  const files = cfg.files.map((f) => {
    const dir = f.length > 1 && f.endsWith('/');
    return { name: tc(dir ? f.slice(0, -1) : f), dir };
  });
  const code = cfg.fallback.startsWith('=') ? Number(cfg.fallback.slice(1)) : 0;
  return { files, code, fallback: code > 0 ? null : tc(cfg.fallback) };
}

/** Run try_files for `r` (handled: the request goes on when the tests are done). */
export function startTryFiles(r: HttpRequest, plan: LocationPlan, tf: TryFilesPlan): void {
  holdBody(r);
  tryFiles(r, plan, tf).then(
    (next) => continueAfterWait(r, next),
    (err: unknown) => {
      r.site.logger.error({ err, uri: r.uri }, 'try_files failed');
      continueAfterWait(r, { kind: 'status', code: 500 });
    },
  );
}

export type AfterWait =
  | { readonly kind: 'content' }
  | { readonly kind: 'status'; readonly code: number }
  | { readonly kind: 'named'; readonly name: string }
  | { readonly kind: 'redirect'; readonly uri: string; readonly args: string }
  | { readonly kind: 'answer'; readonly response: LocalResponse };

const CONTENT: AfterWait = { kind: 'content' };

async function tryFiles(r: HttpRequest, plan: LocationPlan, tf: TryFilesPlan): Promise<AfterWait> {
  const root = plan.root(r);
  // --explain: each file tested, with what was found
  const tested: string[] | null = r.trace === null ? null : [];
  for (const f of tf.files) {
    const name = f.name(r);
    const file = filePath(root, plan.files, name, true);
    if (file === null) continue;
    let isDir: boolean;
    try {
      isDir = (await stat(file)).isDirectory();
    } catch {
      tested?.push(`${file}${f.dir ? '/' : ''}: not found`);
      continue;
    }
    if (r.transport.closed) return CONTENT;
    if (isDir !== f.dir) {
      tested?.push(`${file}${f.dir ? '/' : ''}: ${isDir ? 'a directory' : 'not a directory'}`);
      continue;
    }
    if (tested !== null) r.trace!.events.push({ kind: 'tryFiles', tested, found: file });
    r.uri = name;
    return CONTENT;
  }
  if (tested !== null) r.trace!.events.push({ kind: 'tryFiles', tested, found: null });
  if (tf.fallback === null) return { kind: 'status', code: tf.code };
  const target = tf.fallback(r);
  if (target.startsWith('@')) return { kind: 'named', name: target.slice(1) };
  const { path, args } = splitTarget(target);
  return { kind: 'redirect', uri: path, args };
}
