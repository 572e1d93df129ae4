/**
 * auth_basic / auth_basic_user_file (nginx's ngx_http_auth_basic_module), with nginx's answers
 * and error-log lines (checked with nginx 1.22; fail2ban's nginx-http-auth filter reads them):
 *
 *   no usable Authorization     401, [info] no user/password was provided for basic authentication
 *   unknown user                401, [error] user "x" was not found in "/path"
 *   wrong password              401, [error] user "x": password mismatch
 *   file missing                403, [error] open() "/path" failed (2: No such file or directory)
 *   file unreadable             500, [crit]  open() / pread() "/path" failed (13: Permission denied)
 *
 * every 401 with `WWW-Authenticate: Basic realm="<realm>"`. A realm that evaluates to `off`, or
 * no user file, turns the check off for the request.
 */
import type { LogFn, Logger } from 'pino';
import type { AccessConfig } from '../../config/types.js';
import { systemErrorText } from '../../errors.js';
import { headerValue } from '../../wire/headers.js';
import type { HttpRequest } from '../request.js';
import { requestLogContext } from '../upstream-log.js';
import type { CompiledTemplate } from '../variables.js';
import { basicCredentials, type BasicCredentials } from './basic-credentials.js';
import { CHECK_DECLINED, CHECK_OK } from './check.js';
import { checkPassword } from './password-hash.js';
import { userFile, type UserFileResult } from './user-file.js';

export interface BasicAuthPlan {
  readonly realm: CompiledTemplate;
  /** The user file's absolute path when it has no variables, else null (see `file`). */
  readonly path: string | null;
  readonly file: CompiledTemplate | null;
  readonly prefix: string;
}

export function compileBasicAuth(access: AccessConfig, tc: (t: string) => CompiledTemplate, prefix: string): BasicAuthPlan | null {
  if (access.authBasic === null || access.authBasicUserFile === null) return null;
  const f = access.authBasicUserFile;
  const variable = f.includes('$');
  return { realm: tc(access.authBasic), path: variable ? null : resolve(prefix, f), file: variable ? tc(f) : null, prefix };
}

/** A relative path is taken from the prefix (nginx: the conf prefix), after evaluation. */
function resolve(prefix: string, path: string): string {
  return path.startsWith('/') ? path : `${prefix.replace(/\/+$/, '')}/${path}`;
}

function unauthorized(r: HttpRequest, realm: string): number {
  r.authenticate = `Basic realm="${realm}"`;
  return 401;
}

export function checkBasicAuth(r: HttpRequest, plan: BasicAuthPlan): number | Promise<number> {
  const realm = plan.realm(r);
  if (realm === 'off') return CHECK_DECLINED;
  const credentials = basicCredentials(headerValue(r.head, 'authorization') ?? '');
  if (credentials === null) {
    r.site.logger.info(requestLogContext(r), 'no user/password was provided for basic authentication');
    return unauthorized(r, realm);
  }
  const path = plan.path ?? resolve(plan.prefix, plan.file!(r));
  const file = userFile(path, Date.now());
  if (file instanceof Promise) return file.then((f) => withFile(r, realm, path, credentials, f));
  return withFile(r, realm, path, credentials, file);
}

function withFile(r: HttpRequest, realm: string, path: string, c: BasicCredentials, file: UserFileResult): number | Promise<number> {
  if (!file.ok) {
    const message = `${file.syscall}() "${path}" failed (${systemErrorText(file.error)})`;
    if (file.error.code === 'ENOENT') {
      r.site.logger.error(requestLogContext(r), message);
      return 403;
    }
    const logger = r.site.logger as Logger & { crit?: LogFn };
    // nginx's level; a logger made without nginx's levels (embedding, tests) says error
    (logger.crit ?? logger.error).call(logger, requestLogContext(r), message);
    return 500;
  }
  const hash = file.users.get(c.user);
  if (hash === undefined) {
    r.site.logger.error(requestLogContext(r), `user "${c.user}" was not found in "${path}"`);
    return unauthorized(r, realm);
  }
  const ok = checkPassword(hash, c.password);
  if (typeof ok === 'boolean') return verdict(r, realm, c, ok);
  return ok.then((v) => verdict(r, realm, c, v));
}

function verdict(r: HttpRequest, realm: string, c: BasicCredentials, ok: boolean): number {
  if (ok) return CHECK_OK;
  r.site.logger.error(requestLogContext(r), `user "${c.user}": password mismatch`);
  return unauthorized(r, realm);
}
