/**
 * The status document's http counters, kept at the end of each request (endRequest, where
 * stub_status counts it done): the server block's requests, response class, bytes and request
 * time, and what each upstream try did (upstream/stats.ts). Plain increments, no allocation.
 */
import { accountAttempts } from '../upstream/stats.js';
import type { HttpRequest } from './request.js';
import { nowMs } from '../event-clock.js';

export function accountRequest(r: HttpRequest): void {
  const now = nowMs();
  const tries = r.upstream;
  if (tries !== null) accountAttempts(tries.list, true, now);
  const server = r.server;
  // a request refused before a server was chosen (400 on its head) belongs to no block
  if (server === null || r.parent !== null) return;
  const s = server.stats;
  s.writing--;
  s.requestEnded(r.status, r.requestLength, r.bytesSent, (now - r.startMs) / 1000);
}
