/**
 * The status page's short check result, in HAProxy's manner: the layer that answered and what it
 * said ("L7 200", "L7 503", "L4 ok", "L4 connect refused", "L4 timeout", "L6 handshake failed",
 * "timeout"). The full reason stays in Peer.lastError; this is what fits a table cell.
 */
import type { CheckConfig } from '../../config/types.js';
import type { ProbeResult } from './probes.js';

/** `status`: the HTTP status the check got (0: none). */
export function checkResultCode(type: CheckConfig['type'], result: ProbeResult, status: number): string {
  if (status !== 0) return `L7 ${status}`;
  if (result.ok) return type === 'ssl_hello' ? 'L6 ok' : type === 'tcp' ? 'L4 ok' : 'L7 ok';
  const reason = result.reason;
  if (reason === 'timed out') return type === 'tcp' ? 'L4 timeout' : 'timeout';
  if (reason.startsWith('connect() failed')) return reason.includes('refused') ? 'L4 connect refused' : 'L4 connect failed';
  if (reason === 'connection closed prematurely' || reason.includes('() failed')) return 'L4 connection lost';
  if (type === 'ssl_hello') return 'L6 handshake failed';
  if (reason === 'check aborted') return 'aborted';
  return 'L7 invalid response';
}
