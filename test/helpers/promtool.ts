/** Debian's promtool (package prometheus): the Prometheus project's own parser and linter. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const PROMTOOL = '/usr/bin/promtool';
/** Outside CI a machine without promtool skips; in CI (.ci/run installs it) it must run. */
export const HAVE_PROMTOOL = existsSync(PROMTOOL) || process.env.CI !== undefined;

/** `promtool check metrics` on `text`: exit status 0 and no output when it parses and lints clean. */
export function promtoolCheck(text: string): { status: number | null; output: string } {
  const r = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error?.message ?? ''}` };
}
