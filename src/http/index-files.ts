/**
 * A static request for a directory ($uri ending in "/"), as nginx's index, autoindex and static
 * modules: the first `index` name that exists is an internal redirect to $uri + name (an absolute
 * name, "/x", is one without a test); else `autoindex on` lists the directory, else 403
 * ("directory index of ... is forbidden"); a directory that does not exist is 404 (`"...index.html"
 * is not found`). Error-log lines are nginx's. File tests go to the thread pool (fs.promises).
 */
import { stat } from 'node:fs/promises';
import { systemErrorText } from '../errors.js';
import { autoindexResponse } from './autoindex.js';
import { filePath } from './file-path.js';
import { continueAfterWait } from './phase-waits.js';
import type { LocationPlan } from './plan.js';
import type { HttpRequest } from './request.js';
import { errorResponse } from './respond.js';
import { holdBody } from './suspend.js';
import type { AfterWait } from './try-files.js';
import { requestLogContext } from './upstream-log.js';

const NOT_FOUND: AfterWait = { kind: 'status', code: 404 };
const FORBIDDEN: AfterWait = { kind: 'status', code: 403 };

/** Serve the directory request `r` (handled: it goes on when the file system answered). */
export function startDirectory(r: HttpRequest, plan: LocationPlan): void {
  holdBody(r);
  directory(r, plan).then(
    (next) => continueAfterWait(r, next),
    (err: unknown) => {
      r.site.logger.error({ err, uri: r.uri }, 'directory request failed');
      continueAfterWait(r, { kind: 'answer', response: errorResponse(500) });
    },
  );
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENAMETOOLONG';
}

async function directory(r: HttpRequest, plan: LocationPlan): Promise<AfterWait> {
  const dir = filePath(plan.root(r), plan.files, r.uri);
  if (dir === null) return NOT_FOUND;
  let missing: { file: string; err: unknown } | null = null;
  for (const indexOf of plan.index) {
    const name = indexOf(r);
    if (name.startsWith('/')) return { kind: 'redirect', uri: name, args: r.args };
    const file = dir.endsWith('/') ? dir + name : `${dir}/${name}`;
    try {
      await stat(file);
      return { kind: 'redirect', uri: r.uri + name, args: r.args };
    } catch (err) {
      if (!isMissing(err)) {
        r.site.logger.error(requestLogContext(r, 'TSP_ERR_STATIC_FILE'), `"${file}" is forbidden (${systemErrorText(err as Error)})`);
        return FORBIDDEN;
      }
      missing ??= { file, err };
    }
  }
  let isDir = false;
  try {
    isDir = (await stat(dir)).isDirectory();
  } catch {
    // not there: the index file is what nginx reports
  }
  if (!isDir) {
    const what = missing === null ? `"${dir}" is not found (2: No such file or directory)` : `"${missing.file}" is not found (${systemErrorText(missing.err as Error)})`;
    // nginx's index module: the 404 is logged unless log_not_found is off.
    if (plan.files.settings.logNotFound) r.site.logger.error(requestLogContext(r, 'TSP_ERR_STATIC_FILE'), what);
    return NOT_FOUND;
  }
  if (plan.files.settings.autoindex) {
    try {
      return { kind: 'answer', response: await autoindexResponse(dir, r.uri, plan.files.settings) };
    } catch (err) {
      // nginx's ngx_http_autoindex_error: 404 when gone, 403 when not readable, else 500.
      r.site.logger.error(requestLogContext(r, 'TSP_ERR_STATIC_FILE'), `opendir() "${dir}" failed (${systemErrorText(err)})`);
      return isMissing(err) ? NOT_FOUND : (err as NodeJS.ErrnoException).code === 'EACCES' ? FORBIDDEN : { kind: 'status', code: 500 };
    }
  }
  r.site.logger.error(requestLogContext(r, 'TSP_ERR_STATIC_FILE'), `directory index of "${dir}" is forbidden`);
  return FORBIDDEN;
}
