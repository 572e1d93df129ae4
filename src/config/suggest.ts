/** "did you mean": the name of tsproxy's an unknown directive is a typo of. */
import { DIRECTIVE_NAMES } from './directives.js';
import { NGINX_DIRECTIVES } from './nginx-directives.js';

const OUR_NAMES: ReadonlySet<string> = new Set(DIRECTIVE_NAMES);

/**
 * Closest name of tsproxy's within edit distance 2 (1 for a name of up to 5 characters: "nope" is
 * no typo of "zone"); none when an nginx directive tsproxy lacks is at least as close ("matc" may
 * be nginx's "match" as well as tsproxy's "watch").
 */
export function suggest(name: string): string | null {
  let best: string | null = null;
  let bestDist = name.length <= 5 ? 2 : 3;
  for (const candidate of DIRECTIVE_NAMES) {
    if (Math.abs(candidate.length - name.length) >= bestDist) continue;
    const dist = editDistance(name, candidate, bestDist);
    if (dist < bestDist) { best = candidate; bestDist = dist; }
  }
  if (best === null) return null;
  for (const candidate of NGINX_DIRECTIVES) {
    if (Math.abs(candidate.length - name.length) > bestDist || OUR_NAMES.has(candidate)) continue;
    if (editDistance(name, candidate, bestDist + 1) <= bestDist) return null;
  }
  return best;
}

function editDistance(a: string, b: string, limit: number): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const v = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      cur.push(v);
      rowMin = Math.min(rowMin, v);
    }
    if (rowMin >= limit) return limit;
    prev = cur;
  }
  return prev[b.length]!;
}
