/** `tsproxy --explain` as the command line runs it: the --status fetch, the explanation, its format. */
import type { Config } from '../../config/types.js';
import { TsproxyError } from '../../errors.js';
import { explainRequest } from './explain.js';
import { explanationText } from './text.js';
import { fetchPeerHealth, type PeerHealth } from './upstream.js';

/** `--explain` and its companions (README "Explaining a request"). */
export interface ExplainArgs {
  readonly request: string;
  readonly headers: readonly string[];
  readonly from: string | null;
  readonly listen: string | null;
  readonly sni: string | null;
  readonly status: string | null;
  readonly format: 'text' | 'json';
}

/** The explanation as printed; `base`: the directory config places are written relative to. */
export async function explainCommand(config: Config, files: readonly { file: string; text: string }[], args: ExplainArgs, base: string): Promise<string> {
  let health: PeerHealth | null = null;
  if (args.status !== null) {
    try {
      health = await fetchPeerHealth(args.status);
    } catch (err) {
      throw new TsproxyError('TSP_ERR_EXPLAIN', `--status ${args.status}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  const e = await explainRequest(config, { files, base }, { request: args.request, headers: args.headers, from: args.from, listen: args.listen, sni: args.sni, health });
  return args.format === 'json' ? `${JSON.stringify(e, null, 2)}\n` : explanationText(e);
}
