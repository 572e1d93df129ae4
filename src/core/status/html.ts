/**
 * The status page: a complete static page (tables per upstream, server block, stream server and
 * cache zone, and the process facts) that reads well with JavaScript off, where a <noscript>
 * refresh reloads it every 5 seconds. With JavaScript on, the page's script (page-script.ts) takes
 * the document embedded in the page, then follows the event stream of the same URL: every cell
 * carrying `data-v` (its path in the document) and `data-f` (how it reads, cells.ts) is updated in
 * place, and the charts are drawn as inline SVG. Everything is escaped; nothing is loaded from
 * anywhere.
 */
import { statusCell } from './cells.js';
import type { PeerStatus, StatusDocument } from './document.js';
import { PAGE_SCRIPT } from './page-script.js';
import { PAGE_STYLE } from './page-style.js';

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/** JSON inside <script>: no `</script>` or `<!--` can end or confuse the element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

class Cells {
  constructor(readonly nowMs: number) {}

  /** A cell the script keeps up to date: its document path and format travel with it. */
  td(path: string, kind: string, value: unknown, cls = 'num'): string {
    return `<td class="${cls}" data-v="${escapeHtml(path)}" data-f="${kind}">${escapeHtml(statusCell(kind, value, this.nowMs))}</td>`;
  }

  fact(label: string, path: string, kind: string, value: unknown): string {
    return `<div><dt>${label}</dt><dd data-v="${path}" data-f="${kind}">${escapeHtml(statusCell(kind, value, this.nowMs))}</dd></div>`;
  }
}

function header(columns: readonly (string | readonly [string, string])[]): string {
  return `<thead><tr>${columns.map((c) => (typeof c === 'string' ? `<th>${c}</th>` : `<th title="${escapeHtml(c[1])}">${c[0]}</th>`)).join('')}</tr></thead>`;
}

/** A section with one table, left out when it has no rows. */
function tableSection(cls: string, title: string, columns: readonly (string | readonly [string, string])[], rows: readonly string[]): string {
  if (rows.length === 0) return '';
  return `<section class="${cls}"><h2>${title}</h2><div class="scroll"><table>${header(columns)}<tbody>\n${rows.map((r) => `<tr>${r}</tr>`).join('\n')}\n</tbody></table></div></section>`;
}

/** Column headers, short, each with a tooltip that says what it counts. */
const PEER_COLUMNS: readonly (readonly [string, string])[] = [
  ['Peer', 'The server line (address, #n for a repeated one)'], ['State', 'up, down (checks), passive-down (max_fails), disabled (down in the config)'],
  ['For', 'Time in the current state'], ['Last check', 'Last active check: result and latency'],
  ['OK / rise', 'Consecutive successful checks / rise= threshold'], ['Failed / fall', 'Consecutive failed checks / fall= threshold'],
  ['Last error', 'Last failure, active or passive'],
  ['Weight', 'weight='], ['Backup', 'backup'], ['Max', 'max_conns= (none: no limit)'],
  ['Active', 'Connections in progress'], ['Conns', 'Connections opened (keepalive reuse not counted)'], ['Requests', 'Requests sent (each retry where it went)'],
  ['2xx', 'Responses 2xx'], ['3xx', 'Responses 3xx'], ['4xx', 'Responses 4xx'], ['5xx', 'Responses 5xx'], ['None', 'Requests that got no response'],
  ['Sent', 'Bytes sent to the peer'], ['Recv', 'Bytes received from the peer'], ['Conn fail', 'Connection attempts that failed'],
  ['Timeout', 'Timeouts'], ['Retried', 'Attempts retried on another peer (proxy_next_upstream)'], ['Fails', 'Failures in the current fail_timeout window (max_fails)'],
  ['Changes', 'State changes between up and not up'], ['Downtime', 'Total time down or passive-down'],
];

function peerRow(c: Cells, path: string, p: PeerStatus): string {
  const r = `${path}.responses`;
  return `<tr class="${p.state}" data-state="${path}.state">` + [
    `<td class="peer">${escapeHtml(p.key)}</td>`,
    c.td(`${path}.state`, 's', p.state, 'state'),
    c.td(`${path}.stateSince`, 'since', p.stateSince),
    c.td(path, 'check', p, ''),
    c.td(path, 'rise', p),
    c.td(path, 'fall', p),
    c.td(`${path}.lastError`, 's', p.lastError, 'error'),
    c.td(`${path}.weight`, 'n', p.weight),
    c.td(`${path}.backup`, 'flag', p.backup, ''),
    c.td(`${path}.maxConns`, 'limit', p.maxConns),
    c.td(`${path}.activeConnections`, 'n', p.activeConnections),
    c.td(`${path}.connections`, 'n', p.connections),
    c.td(`${path}.requests`, 'n', p.requests),
    c.td(`${r}.2xx`, 'n', p.responses['2xx']),
    c.td(`${r}.3xx`, 'n', p.responses['3xx']),
    c.td(`${r}.4xx`, 'n', p.responses['4xx']),
    c.td(`${r}.5xx`, 'n', p.responses['5xx']),
    c.td(`${r}.xxx`, 'n', p.responses.xxx),
    c.td(`${path}.sentBytes`, 'bytes', p.sentBytes),
    c.td(`${path}.receivedBytes`, 'bytes', p.receivedBytes),
    c.td(`${path}.connectFailures`, 'n', p.connectFailures),
    c.td(`${path}.timeouts`, 'n', p.timeouts),
    c.td(`${path}.retries`, 'n', p.retries),
    c.td(`${path}.fails`, 'n', p.fails),
    c.td(`${path}.stateChanges`, 'n', p.stateChanges),
    c.td(`${path}.downtimeMs`, 'dur', p.downtimeMs),
  ].join('') + '</tr>';
}

function processSection(c: Cells, doc: StatusDocument): string {
  const p = doc.process;
  return [
    '<section class="process"><h2>Process</h2>',
    '<div class="charts" data-chart="total"></div>',
    '<dl class="facts">',
    c.fact('Version', 'process.version', 's', p.version),
    c.fact('PID', 'process.pid', 's', p.pid),
    c.fact('Uptime', 'process.uptimeMs', 'dur', p.uptimeMs),
    c.fact('Started', 'process.startedAt', 'time', p.startedAt),
    c.fact('Workers', 'process', 'workers', p),
    c.fact('Reloads', 'process', 'reload', p),
    c.fact('Memory (RSS)', 'process.rssBytes', 'bytes', p.rssBytes),
    c.fact('Heap used', 'process.heapUsedBytes', 'bytes', p.heapUsedBytes),
    c.fact('Connections', 'process.connections.active', 'n', p.connections.active),
    c.fact('Reading / writing', 'process.connections', 'rw', p.connections),
    c.fact('Waiting', 'process.connections.waiting', 'n', p.connections.waiting),
    c.fact('Accepted', 'process.connections.accepts', 'n', p.connections.accepts),
    c.fact('Requests', 'process.connections.requests', 'n', p.connections.requests),
    '</dl></section>',
  ].join('\n');
}

function upstreamSections(c: Cells, doc: StatusDocument): string[] {
  return doc.upstreams.map((u, i) => {
    const path = `upstreams.${i}`;
    return [
      `<section class="upstream" data-upstream="${escapeHtml(u.name)}">`,
      `<h2>${escapeHtml(u.name)} <span class="ctx">${u.context}</span> ${redisNote(u)}` +
        `<span class="count ${u.up === u.total ? 'ok' : 'bad'}" data-v="${path}" data-f="upcount">${statusCell('upcount', u, c.nowMs)}</span></h2>`,
      `<div class="charts" data-chart="${escapeHtml(u.name)}"></div>`,
      `<div class="scroll"><table>${header(PEER_COLUMNS)}<tbody>`,
      ...u.peers.map((p, j) => peerRow(c, `${path}.peers.${j}`, p)),
      '</tbody></table></div></section>',
    ].join('\n');
  });
}

/** A Redis-fed upstream says where its peers come from (its groups follow, one per known key). */
function redisNote(u: StatusDocument['upstreams'][number]): string {
  if (u.redisPeers !== undefined) return `<span class="ctx">redis ${escapeHtml(u.redisPeers.redis)} key=${escapeHtml(u.redisPeers.key)}</span> `;
  return u.redisKey === undefined ? '' : '<span class="ctx">redis key</span> ';
}

/** The `redis` blocks: connection state, and the upstreams they feed with their known keys. */
function redisSection(c: Cells, doc: StatusDocument): string {
  const rows = doc.redis.map((r, i) => {
    const p = `redis.${i}`;
    const fed = r.upstreams.map((u) => `${u.name} (${u.context}) key=${u.key}: ${u.keys.length} key${u.keys.length === 1 ? '' : 's'}` +
      (u.keys.length === 0 ? '' : ` [${u.keys.slice(0, 20).map((k) => k.key).join(', ')}${u.keys.length > 20 ? ', ...' : ''}]`));
    return [
      `<td class="peer">${escapeHtml(r.name)}</td>`,
      `<td>${escapeHtml(r.server)}</td>`,
      c.td(`${p}.state`, 's', r.state, 'state'),
      c.td(`${p}.stateSince`, 'since', r.stateSince),
      c.td(`${p}.outages`, 'n', r.outages),
      c.td(`${p}.notifications`, 'flag', r.notifications, ''),
      c.td(`${p}.lastError`, 's', r.lastError, 'error'),
      `<td>${escapeHtml(fed.join('; '))}</td>`,
    ].join('');
  });
  const cols = ['Redis', 'Server', 'State', 'For', 'Outages', 'Notifications', 'Last error', 'Fed upstreams and keys'];
  return tableSection('redis', 'Redis', cols, rows);
}

function serverSection(c: Cells, doc: StatusDocument): string {
  const rows = doc.servers.map((s, i) => {
    const p = `servers.${i}`;
    return [
      `<td class="peer">${escapeHtml(s.name === '' ? '""' : s.name)}</td>`,
      `<td>${escapeHtml(s.listen.join(' '))}</td>`,
      c.td(`${p}.connections.active`, 'n', s.connections.active),
      c.td(`${p}.connections.reading`, 'n', s.connections.reading),
      c.td(`${p}.connections.writing`, 'n', s.connections.writing),
      c.td(`${p}.connections.idle`, 'n', s.connections.idle),
      c.td(`${p}.accepted`, 'n', s.accepted),
      c.td(`${p}.requests`, 'n', s.requests),
      c.td(`${p}.requestRate`, 'rate', s.requestRate),
      ...(['2xx', '3xx', '4xx', '5xx', 'xxx'] as const).map((k) => c.td(`${p}.responses.${k}`, 'n', s.responses[k])),
      c.td(`${p}.receivedBytes`, 'bytes', s.receivedBytes),
      c.td(`${p}.sentBytes`, 'bytes', s.sentBytes),
      c.td(`${p}.tlsHandshakes`, 'n', s.tlsHandshakes),
      c.td(`${p}.tlsFailures`, 'n', s.tlsFailures),
    ].join('');
  });
  const cols = ['Server', 'Listen', 'Active', 'Reading', 'Writing', 'Idle', 'Accepted', 'Requests', 'Rate', '2xx', '3xx', '4xx', '5xx', 'No resp.', 'Received', 'Sent', 'TLS', 'TLS fails'];
  return tableSection('servers', 'HTTP servers', cols, rows);
}

function streamSection(c: Cells, doc: StatusDocument): string {
  const rows = doc.streamServers.map((s, i) => {
    const p = `streamServers.${i}`;
    return [
      `<td class="peer">${escapeHtml(s.listen.join(' '))}</td>`,
      `<td>${s.protocol}</td>`,
      c.td(`${p}.activeSessions`, 'n', s.activeSessions),
      c.td(`${p}.sessions`, 'n', s.sessions),
      c.td(`${p}.receivedBytes`, 'bytes', s.receivedBytes),
      c.td(`${p}.sentBytes`, 'bytes', s.sentBytes),
      c.td(`${p}.tlsHandshakes`, 'n', s.tlsHandshakes),
      c.td(`${p}.tlsFailures`, 'n', s.tlsFailures),
    ].join('');
  });
  const cols = ['Listen', 'Protocol', 'Active', 'Sessions', 'Received', 'Sent', 'TLS', 'TLS fails'];
  return tableSection('streams', 'Stream servers', cols, rows);
}

function cacheSection(c: Cells, doc: StatusDocument): string {
  const rows = doc.caches.map((z, i) => {
    const p = `caches.${i}`;
    return [
      `<td class="peer">${escapeHtml(z.name)}</td>`,
      c.td(`${p}.entries`, 'n', z.entries),
      c.td(`${p}.sizeBytes`, 'bytes', z.sizeBytes),
      c.td(`${p}.maxSizeBytes`, 'bytes', z.maxSizeBytes),
      c.td(`${p}.hits`, 'n', z.hits),
      c.td(`${p}.misses`, 'n', z.misses),
      c.td(`${p}.hitRatio`, 'pct', z.hitRatio),
    ].join('');
  });
  const cols = ['Zone', 'Entries', 'Size', 'Max size', 'Hits', 'Misses', 'Hit ratio'];
  return tableSection('caches', 'Cache zones', cols, rows);
}

/** Every upstream's counted peers (UpstreamStatus.up/total: disabled peers and idle backups left out). */
function summary(doc: StatusDocument): string {
  const up = doc.upstreams.reduce((n, u) => n + u.up, 0);
  const total = doc.upstreams.reduce((n, u) => n + u.total, 0);
  const count = doc.upstreams.length;
  return `<p class="summary"><b class="${up === total ? 'ok' : 'bad'}" id="peers-up">${up} of ${total} peers up</b> in ${count} ` +
    `upstream${count === 1 ? '' : 's'} &middot; generated <span data-v="generatedAt" data-f="time">${escapeHtml(statusCell('time', doc.generatedAt, 0))}</span> ` +
    '&middot; <span id="live">refreshes every 5 s</span></p>';
}

export function renderStatusHtml(doc: StatusDocument): string {
  const c = new Cells(Date.parse(doc.generatedAt));
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    // Only without JavaScript: the script follows the event stream instead of reloading.
    '<noscript><meta http-equiv="refresh" content="5"></noscript>',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<title>tsproxy status</title>',
    `<style>${PAGE_STYLE}</style>`,
    '</head><body>',
    '<h1>tsproxy status</h1>',
    summary(doc),
    processSection(c, doc),
    redisSection(c, doc),
    ...upstreamSections(c, doc),
    serverSection(c, doc),
    streamSection(c, doc),
    cacheSection(c, doc),
    `<script id="status-doc" type="application/json">${scriptJson(doc)}</script>`,
    `<script>${PAGE_SCRIPT}</script>`,
    '</body></html>',
    '',
  ].filter((l) => l !== '').join('\n') + '\n';
}
