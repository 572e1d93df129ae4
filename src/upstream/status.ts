/**
 * `check_status [html|json|prometheus]`: the state of every peer of every group, rendered from
 * the live Peer objects. The HTML page is self-contained (inline style, no scripts) and refreshes
 * itself every 5 seconds.
 */
import type { UpstreamGroup } from './group.js';
import type { Peer } from './peer.js';

export type StatusFormat = 'html' | 'json' | 'prometheus';
export type PeerState = 'up' | 'down' | 'passive-down' | 'disabled';

export interface PeerStatus {
  readonly key: string;
  readonly state: PeerState;
  readonly weight: number;
  readonly backup: boolean;
  readonly activeConns: number;
  readonly requests: number;
  readonly fails: number;
  /** Consecutive successful / failed active checks. */
  readonly rise: number;
  readonly fall: number;
  /** ISO time of the last active check, null before the first (or without `check`). */
  readonly lastCheck: string | null;
  readonly lastError: string | null;
  readonly checkType: string | null;
}

export interface StatusDocument {
  readonly upstreams: readonly { readonly name: string; readonly peers: readonly PeerStatus[] }[];
  readonly generatedAt: string;
}

export function peerState(peer: Peer, now: number): PeerState {
  if (peer.down) return 'disabled';
  if (!peer.healthy) return 'down';
  if (peer.passivelyDown(now)) return 'passive-down';
  return 'up';
}

export function statusDocument(groups: readonly UpstreamGroup[], now: number): StatusDocument {
  return {
    upstreams: groups.map((g) => ({
      name: g.name,
      peers: g.peers.map((p) => ({
        key: p.key,
        state: peerState(p, now),
        weight: p.weight,
        backup: p.backup,
        activeConns: p.activeConns,
        requests: p.requests,
        fails: p.fails,
        rise: p.riseCount,
        fall: p.fallCount,
        lastCheck: p.checkedAt === null ? null : new Date(p.checkedAt).toISOString(),
        lastError: p.lastError,
        checkType: p.checkType,
      })),
    })),
    generatedAt: new Date(now).toISOString(),
  };
}

export function renderStatus(
  groups: readonly UpstreamGroup[],
  format: StatusFormat,
  now: number = Date.now(),
): { contentType: string; body: string } {
  const doc = statusDocument(groups, now);
  switch (format) {
    case 'json':
      return { contentType: 'application/json', body: `${JSON.stringify(doc)}\n` };
    case 'prometheus':
      return { contentType: 'text/plain; version=0.0.4; charset=utf-8', body: renderPrometheus(doc) };
    case 'html':
      return { contentType: 'text/html; charset=utf-8', body: renderHtml(doc) };
  }
}

function promLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

const METRICS: readonly { name: string; type: 'gauge' | 'counter'; help: string; value: (p: PeerStatus) => number }[] = [
  { name: 'tsproxy_upstream_peer_up', type: 'gauge', help: 'Whether the peer takes traffic (1) or not (0).', value: (p) => (p.state === 'up' ? 1 : 0) },
  { name: 'tsproxy_upstream_peer_active_connections', type: 'gauge', help: 'Connections to the peer in progress.', value: (p) => p.activeConns },
  { name: 'tsproxy_upstream_peer_requests_total', type: 'counter', help: 'Requests sent to the peer.', value: (p) => p.requests },
  { name: 'tsproxy_upstream_peer_fails', type: 'gauge', help: 'Failures counted against max_fails in the current fail_timeout window.', value: (p) => p.fails },
];

function renderPrometheus(doc: StatusDocument): string {
  const lines: string[] = [];
  for (const metric of METRICS) {
    lines.push(`# HELP ${metric.name} ${metric.help}`, `# TYPE ${metric.name} ${metric.type}`);
    for (const up of doc.upstreams) {
      for (const peer of up.peers) {
        lines.push(`${metric.name}{upstream="${promLabel(up.name)}",peer="${promLabel(peer.key)}"} ${metric.value(peer)}`);
      }
    }
  }
  return `${lines.join('\n')}\n`;
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

const STYLE = `body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin-bottom:2em;min-width:60%}
th,td{border:1px solid #bbb;padding:.3em .6em;text-align:left}
th{background:#eee}
tr.up{background:#d9f2d9}tr.down,tr.passive-down{background:#f7d4d4}tr.disabled{background:#e4e4e4;color:#666}
.summary{color:#555}`;

function renderHtml(doc: StatusDocument): string {
  const out: string[] = [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta http-equiv="refresh" content="5">',
    '<title>tsproxy upstream status</title>',
    `<style>${STYLE}</style>`,
    '</head><body>',
    '<h1>Upstream status</h1>',
    `<p class="summary">Generated at ${escapeHtml(doc.generatedAt)}</p>`,
  ];
  for (const up of doc.upstreams) {
    const live = up.peers.filter((p) => p.state === 'up').length;
    out.push(`<h2>${escapeHtml(up.name)}</h2>`, `<p class="summary">${live} of ${up.peers.length} peers up</p>`);
    out.push(
      '<table><thead><tr><th>Peer</th><th>State</th><th>Weight</th><th>Backup</th><th>Active</th><th>Requests</th>' +
        '<th>Fails</th><th>Rise</th><th>Fall</th><th>Check</th><th>Last check</th><th>Last error</th></tr></thead><tbody>',
    );
    for (const p of up.peers) {
      const cells = [
        p.key,
        p.state,
        String(p.weight),
        p.backup ? 'yes' : 'no',
        String(p.activeConns),
        String(p.requests),
        String(p.fails),
        String(p.rise),
        String(p.fall),
        p.checkType ?? 'none',
        p.lastCheck ?? '-',
        p.lastError ?? '-',
      ];
      out.push(`<tr class="${p.state}">${cells.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`);
    }
    out.push('</tbody></table>');
  }
  out.push('</body></html>', '');
  return out.join('\n');
}
