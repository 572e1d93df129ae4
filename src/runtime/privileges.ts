/**
 * `user name [group]`: switch to an unprivileged user once every listener is bound and the log
 * and pid files exist (nginx does this in its workers; a single-process tsproxy does it to itself).
 */
import fs from 'node:fs';
import type { Logger } from 'pino';
import type { MainConfig } from '../config/types.js';
import { TsproxyError } from '../errors.js';

export const USER_IGNORED = 'the "user" directive makes sense only if the master process runs with super-user privileges, ignored';

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** The primary group of a user from /etc/passwd (nginx uses a group named like the user; Debian's nobody has none). */
function primaryGid(user: string): number | null {
  try {
    for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f[0] === user && f.length >= 4) return Number.parseInt(f[3]!, 10);
    }
  } catch {
    // no passwd file: fall back to a group of the user's name
  }
  return null;
}

/** Switch user (and group); without root, warn as nginx does and keep running as is. */
export function dropPrivileges(user: NonNullable<MainConfig['user']>, logger: Logger): void {
  if (!isRoot()) {
    logger.warn(USER_IGNORED);
    return;
  }
  const group = user.group ?? primaryGid(user.user) ?? user.user;
  try {
    // Drop root's supplementary groups too (the typings miss initgroups).
    (process as unknown as { initgroups?: (u: string, g: string | number) => void }).initgroups?.(user.user, group);
    process.setgid?.(group);
    process.setuid?.(user.user);
  } catch (err) {
    throw new TsproxyError('TSP_ERR_USER', `cannot switch to user "${user.user}"${user.group ? ` group "${user.group}"` : ''}: ${(err as Error).message}`, { cause: err });
  }
  logger.info({ uid: process.getuid?.(), gid: process.getgid?.() }, `running as user ${user.user}`);
}
