/**
 * `split_clients` (http and stream): the key's MurmurHash2 falls into one of the parts, whose
 * bounds are nginx's (each percentage a share of 2^32 - 1, cut to 32 bits as nginx sums them),
 * so the same key gets the same value as on nginx. A `*` part takes what is left.
 */
import type { SplitClientsConfig } from '../../config/variable-types.js';
import { murmurHash2 } from './murmur.js';
import type { CompiledTemplate, Getter } from './template.js';

/** The upper bound of each part (0 for `*`), as nginx computes them when it reads the block. */
export function splitBounds(parts: SplitClientsConfig['parts']): number[] {
  let last = 0;
  return parts.map((p) => {
    if (p.percent === 0) return 0;
    last = (last + Math.floor((p.percent * 0xffffffff) / 10000)) >>> 0;
    return last;
  });
}

/** The value a hash picks: the first part whose bound is above it, or a `*` part; '' past them all. */
export function splitValue(hash: number, bounds: readonly number[], values: readonly string[]): string {
  for (let i = 0; i < bounds.length; i++) {
    const b = bounds[i]!;
    if (hash < b || b === 0) return values[i]!;
  }
  return '';
}

export function compileSplitClients<C>(s: SplitClientsConfig, key: CompiledTemplate<C>): Getter<C> {
  const bounds = splitBounds(s.parts);
  const values = s.parts.map((p) => p.value);
  return (c) => splitValue(murmurHash2(key(c)), bounds, values);
}
