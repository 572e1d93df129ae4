/**
 * `check_status [html|json|prometheus]` (alias `tcp_check_status`): the status document
 * (document.ts) rendered as JSON (the document itself), Prometheus text or an HTML page. Unlike nginx's modules, which each show only
 * their own context, one page lists the upstreams of both `http {}` and `stream {}` (tagged with
 * their context): an operator wants one place to see what is down. `?format=` overrides the
 * directive's format. The HTML page is self-contained (inline style, no scripts) and refreshes
 * itself every 5 seconds.
 */
import type { PeerStatus, StatusDocument } from './document.js';

export type StatusFormat = 'html' | 'json' | 'prometheus';

export function renderStatus(doc: StatusDocument, format: StatusFormat): { contentType: string; body: string } {
  switch (format) {
    case 'json':
      return { contentType: 'application/json', body: `${JSON.stringify(doc)}\n` };
    case 'prometheus':
      return { contentType: 'text/plain; version=0.0.4; charset=utf-8', body: renderPrometheus(doc) };
    case 'html':
      return { contentType: 'text/html; charset=utf-8', body: renderHtml(doc) };
  }
}

const FORMAT_ARG = /(?:^|&)format=(html|json|prometheus)(?:&|$)/;

/** `?format=html|json|prometheus` wins over the directive's format; anything else is ignored. */
export function statusFormatOf(args: string, configured: StatusFormat): StatusFormat {
  if (args === '') return configured;
  const m = FORMAT_ARG.exec(args);
  return m === null ? configured : (m[1] as StatusFormat);
}

function promLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

const METRICS: readonly { name: string; type: 'gauge' | 'counter'; help: string; value: (p: PeerStatus) => number }[] = [
  { name: 'tsproxy_upstream_peer_up', type: 'gauge', help: 'Whether the peer takes traffic (1) or not (0).', value: (p) => (p.state === 'up' ? 1 : 0) },
  { name: 'tsproxy_upstream_peer_active_connections', type: 'gauge', help: 'Connections to the peer in progress.', value: (p) => p.activeConnections },
  { name: 'tsproxy_upstream_peer_requests_total', type: 'counter', help: 'Requests sent to the peer.', value: (p) => p.requests },
  { name: 'tsproxy_upstream_peer_fails', type: 'gauge', help: 'Failures counted against max_fails in the current fail_timeout window.', value: (p) => p.fails },
];

function renderPrometheus(doc: StatusDocument): string {
  const lines: string[] = [];
  for (const metric of METRICS) {
    lines.push(`# HELP ${metric.name} ${metric.help}`, `# TYPE ${metric.name} ${metric.type}`);
    for (const up of doc.upstreams) {
      for (const peer of up.peers) {
        lines.push(
          `${metric.name}{context="${up.context}",upstream="${promLabel(up.name)}",peer="${promLabel(peer.key)}"} ${metric.value(peer)}`,
        );
      }
    }
  }
  return `${lines.join('\n')}\n`;
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/** State → badge colours (white text on a saturated colour reads at a glance, also for the colour-blind: the word is there). */
const STYLE = `:root{color-scheme:light}
body{font:15px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5rem 2rem;color:#1d2330;background:#f6f7f9}
h1{font-size:1.5rem;margin:0 0 .25rem}
.summary{color:#555;margin:0 0 1.5rem}
.summary b.ok{color:#1b6e2a}.summary b.bad{color:#b3261e}
section.upstream{background:#fff;border:1px solid #d8dce3;border-radius:8px;padding:.75rem 1rem 1rem;margin-bottom:1.5rem;box-shadow:0 1px 2px rgba(0,0,0,.05)}
h2{font-size:1.15rem;margin:.25rem 0 .75rem;display:flex;gap:.6rem;align-items:baseline}
h2 .ctx{font-size:.75rem;font-weight:600;text-transform:uppercase;letter-spacing:.05em;color:#555;background:#e9ecf1;border-radius:4px;padding:.1rem .4rem}
h2 .count{font-size:.9rem;font-weight:600}
h2 .count.ok{color:#1b6e2a}h2 .count.bad{color:#b3261e}
table{border-collapse:collapse;width:100%}
th,td{padding:.4rem .6rem;text-align:left;border-bottom:1px solid #e6e8ec;white-space:nowrap}
th{font-size:.8rem;text-transform:uppercase;letter-spacing:.04em;color:#555;background:#f0f2f5}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.peer{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-weight:600}
td.error{white-space:normal;color:#7a1f1a;max-width:28rem}
td.state{font-weight:700;text-align:center;color:#fff;text-transform:uppercase;letter-spacing:.04em;font-size:.85rem}
tr.up td.state{background:#2e7d32}
tr.down td.state{background:#c62828}
tr.passive-down td.state{background:#e65100}
tr.disabled td.state{background:#757575}
tr.down,tr.passive-down{background:#fdecea}
tr.disabled{color:#777}`;

function renderHtml(doc: StatusDocument): string {
  const total = doc.upstreams.reduce((n, u) => n + u.peers.length, 0);
  const live = doc.upstreams.reduce((n, u) => n + u.peers.filter((p) => p.state === 'up').length, 0);
  const out: string[] = [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta http-equiv="refresh" content="5">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<title>tsproxy upstream status</title>',
    `<style>${STYLE}</style>`,
    '</head><body>',
    '<h1>tsproxy upstream status</h1>',
    `<p class="summary"><b class="${live === total ? 'ok' : 'bad'}">${live} of ${total} peers up</b> in ${doc.upstreams.length} ` +
      `upstream${doc.upstreams.length === 1 ? '' : 's'} &middot; generated ${escapeHtml(doc.generatedAt)} &middot; refreshes every 5 s</p>`,
  ];
  for (const up of doc.upstreams) {
    const upCount = up.peers.filter((p) => p.state === 'up').length;
    out.push(
      '<section class="upstream">',
      `<h2>${escapeHtml(up.name)} <span class="ctx">${up.context}</span> ` +
        `<span class="count ${upCount === up.peers.length ? 'ok' : 'bad'}">${upCount} of ${up.peers.length} up</span></h2>`,
      '<table><thead><tr><th>Peer</th><th>State</th><th>Weight</th><th>Backup</th><th>Active</th><th>Requests</th>' +
        '<th>Fails</th><th>Rise</th><th>Fall</th><th>Check</th><th>Last check</th><th>Last error</th></tr></thead><tbody>',
    );
    for (const p of up.peers) {
      const cells: [string, string][] = [
        ['peer', p.key],
        ['state', p.state],
        ['num', String(p.weight)],
        ['', p.backup ? 'yes' : 'no'],
        ['num', String(p.activeConnections)],
        ['num', String(p.requests)],
        ['num', String(p.fails)],
        ['num', String(p.check?.consecutiveOk ?? 0)],
        ['num', String(p.check?.consecutiveFailed ?? 0)],
        ['', p.check?.type ?? 'none'],
        ['', p.check?.lastAt == null ? '-' : p.check.lastAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z')],
        ['error', p.lastError ?? '-'],
      ];
      const tds = cells.map(([cls, text]) => (cls === '' ? `<td>${escapeHtml(text)}</td>` : `<td class="${cls}">${escapeHtml(text)}</td>`));
      out.push(`<tr class="${p.state}">${tds.join('')}</tr>`);
    }
    out.push('</tbody></table>', '</section>');
  }
  out.push('</body></html>', '');
  return out.join('\n');
}
