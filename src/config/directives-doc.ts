/**
 * Renders grammar/directives.md from the directive table, so the reference can never drift
 * from what the code accepts (test/config/directives.test.ts fails when the file is stale).
 */
import { DIRECTIVES } from './directives.js';

const esc = (s: string): string => s.replace(/\|/g, '\\|');

/** Contexts as a reader knows them: a server's `if` (`sif`) is listed as `if`. */
export function renderDirectiveReference(): string {
  const out: string[] = [
    '# tsproxy directive reference',
    '',
    '<!-- GENERATED from src/config/directives/*.ts by renderDirectiveReference(); do not edit. -->',
    '',
    'Times take nginx units (`ms s m h d w M y`, combinable as `1h30m`); a bare number is seconds,',
    'except inside `check` where it is milliseconds. Sizes take `k m g`. Flags are `on` / `off`.',
    '',
    '| Directive | Syntax | Default | Contexts | Summary | tsproxy difference |',
    '|---|---|---|---|---|---|',
  ];
  const rows = [...DIRECTIVES].sort((a, b) => a.name.localeCompare(b.name) || a.contexts[0]!.localeCompare(b.contexts[0]!));
  for (const d of rows) {
    out.push(
      `| \`${d.name}\` | \`${esc(d.syntax)}\` | ${d.default !== undefined ? `\`${esc(d.default)}\`` : '-'} | ${d.contexts.filter((c) => c !== 'sif').join(', ')} | ${esc(d.summary)} | ${d.note ? esc(d.note) : ''} |`,
    );
  }
  out.push(
    '| `include` | `include file \\| mask;` | - | any | Replaced by the statements of the files it names (globs sorted). | Handled by the config reader, not the table; not available in configs given as text. |',
    '',
  );
  return out.join('\n');
}
