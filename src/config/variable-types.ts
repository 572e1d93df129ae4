/**
 * The typed tree of the variable modules http and stream share besides `map` (types.ts): `geo`
 * and `split_clients`. Values are as nginx keeps them after reading the block: `delete`s and
 * replaced duplicates applied, ranges split where one nests in another, percentages in
 * hundredths. core/variables/ compiles them into getters.
 */
import type { Loc } from '../errors.js';
import type { Template } from './types.js';

export interface GeoConfig {
  /** Variable name without `$`. */
  readonly variable: string;
  /** The address to look up; null: the client address (with `proxy`, the one X-Forwarded-For gives). */
  readonly source: Template | null;
  /** The value when no network or range matches ('' unless `default` is given). */
  readonly defaultValue: string;
  /** `ranges`: IPv4 `from-to` pieces instead of CIDR networks. */
  readonly ranges: boolean;
  /** CIDR mode: networks as written (`10.0.0.0/8`, `::1`), one per network, the last value given. */
  readonly networks: readonly { readonly network: string; readonly value: string }[];
  /** Ranges mode: IPv4 pieces as 32-bit numbers, sorted, not overlapping. */
  readonly pieces: readonly { readonly from: number; readonly to: number; readonly value: string }[];
  /** `proxy` addresses / CIDRs (http only): their X-Forwarded-For names the client. */
  readonly proxies: readonly string[];
  readonly proxyRecursive: boolean;
  readonly loc: Loc;
}

export interface SplitClientsConfig {
  /** Variable name without `$`. */
  readonly variable: string;
  /** The string hashed (MurmurHash2) to pick a part. */
  readonly key: Template;
  /** In file order; `percent` in hundredths of a percent (0.5% → 50), 0 for `*`. */
  readonly parts: readonly { readonly percent: number; readonly value: string }[];
  readonly loc: Loc;
}
