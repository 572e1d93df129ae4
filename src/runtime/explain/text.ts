/** The text form of an explanation (--explain-format text): the JSON document, read top to bottom. */
import type { ExplainContent, ExplainStep, Explanation } from './types.js';

function stepLines(s: ExplainStep): string[] {
  switch (s.kind) {
    case 'locations': {
      const out = [`location search for ${s.uri}:`];
      for (const c of s.candidates) out.push(`    ${c.matched ? '+' : '-'} ${c.name.padEnd(24)} ${c.at.padEnd(22)} ${c.note}`);
      out.push(`    => ${s.chosen ?? '(none: the server\'s own settings)'}`);
      return out;
    }
    case 'access': return [`access: ${s.note}`];
    case 'limits': return [`limits: ${s.note}`];
    case 'try_files': return [`try_files:`, ...s.tested.map((t) => `    - ${t}`), `    => ${s.found === null ? 'none found: the last parameter applies' : `${s.found} exists`}`];
    default: return [`${s.directive}  (${s.at}): ${s.result}`];
  }
}

function peerLines(c: { readonly peers: readonly { peer: string; backup: boolean; health: string }[]; readonly order: readonly string[] }): string[] {
  return [
    `  peers: ${c.peers.map((p) => `${p.peer}${p.backup ? ' (backup)' : ''} [${p.health}]`).join(', ')}`,
    `  would try: ${c.order.length === 0 ? 'no peer is usable now (502)' : c.order.join(' -> ')}`,
  ];
}

function contentLines(c: ExplainContent): string[] {
  switch (c.kind) {
    case 'proxy':
      return [
        `content: proxy_pass to upstream "${c.group}" (${c.method})${c.dynamic === null ? '' : `, proxy_pass evaluated to ${c.dynamic}`}`,
        ...peerLines(c),
        `  upstream URL: ${c.url}`,
        '  request head sent:',
        ...c.head.map((l) => `    ${l}`),
      ];
    case 'answer':
      return [`content: answered here (${c.handler}): ${c.status}`, ...c.head.map((l) => `    ${l}`)];
    case 'close':
      return ['content: the connection is closed without an answer'];
    case 'handler':
      return [`content: ${c.handler}: ${c.note}`];
    case 'stream':
      return [
        `content: proxy_pass to upstream "${c.group}" (${c.method})${c.dynamic === null ? '' : `, proxy_pass evaluated to ${c.dynamic}`}: the bytes as they come${c.tls ? ', over TLS (proxy_ssl)' : ''}${c.proxyProtocol === 0 ? '' : `, after a PROXY v${c.proxyProtocol} header`}`,
        ...peerLines(c),
      ];
  }
}

export function explanationText(e: Explanation): string {
  const q = e.request;
  const lines = [
    `request: ${q.method} ${q.scheme}://${q.host}${q.target} from ${q.from}${q.sni === null ? '' : ` (SNI ${q.sni})`}`,
    ...q.headers.map((h) => `    ${h}`),
    `listen: ${e.listen.key}${e.listen.ssl ? ' ssl' : ''} (${e.listen.at}): ${e.listen.why}`,
    `server: ${e.server.name === '' ? '""' : e.server.name} (${e.server.at}): ${e.server.why}`,
  ];
  const captures = Object.entries(e.server.captures);
  if (captures.length > 0) lines.push(`    captures: ${captures.map(([k, v]) => `$${k}=${v}`).join(' ')}`);
  if (e.steps.length > 0) lines.push('steps:');
  for (const s of e.steps) for (const l of stepLines(s)) lines.push(`  ${l}`);
  if (e.context === 'http') lines.push(e.location === null ? 'location: none: the server\'s own settings answer' : `location: ${e.location.name} (${e.location.at}): ${e.location.why}`);
  lines.push(...contentLines(e.content));
  lines.push('variables:');
  for (const [k, v] of Object.entries(e.variables)) lines.push(`    $${k} = "${v}"`);
  if (e.log.length > 0) lines.push('error log:', ...e.log.map((l) => `    ${l}`));
  return `${lines.join('\n')}\n`;
}
