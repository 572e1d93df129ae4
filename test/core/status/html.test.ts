import { describe, expect, test } from 'vitest';
import { statusCell } from '../../../src/core/status/cells.js';
import { renderStatus, statusEvent, statusFormatOf } from '../../../src/core/status/format.js';
import { escapeHtml, renderStatusHtml } from '../../../src/core/status/html.js';
import { PAGE_SCRIPT } from '../../../src/core/status/page-script.js';
import { sampleDocument } from './fixture.js';

describe('renderStatusHtml', () => {
  const doc = sampleDocument();
  const html = renderStatusHtml(doc);

  test('a static page: one coloured row per peer, the tables, the process facts', () => {
    expect(html.match(/<tr class="up"/g)).toHaveLength(3);
    expect(html.match(/<tr class="down"/g)).toHaveLength(1);
    expect(html.match(/<tr class="disabled"/g)).toHaveLength(1);
    expect(html).toContain('<h2>app <span class="ctx">http</span>');
    expect(html).toContain('<span class="count bad" data-v="upstreams.0" data-f="upcount">1 of 2 up</span>');
    // disabled peers and idle backups are not failures in the summary
    expect(html).toContain('2 of 3 peers up</b> in 2 upstreams');
    expect(html).toContain('<td class="error" data-v="upstreams.0.peers.1.lastError" data-f="s">connect() failed (111: Connection refused)</td>');
    expect(html).toContain('data-f="check">http: L4 connect refused (1 ms)</td>');
    expect(html).toContain('data-f="check">not probed</td>');
    expect(html).toContain('data-f="rise">0 / 2</td>');
    expect(html).toContain('data-f="fall">7 / 3</td>');
    expect(html).toContain('data-v="upstreams.0.peers.0.receivedBytes" data-f="bytes">6.47 MiB</td>');
    expect(html).toContain('data-v="upstreams.0.peers.1.stateSince" data-f="since">1m 0s</td>');
    expect(html).toContain('<h2>HTTP servers</h2>');
    expect(html).toContain('<h2>Stream servers</h2>');
    expect(html).toContain('<h2>Cache zones</h2>');
    expect(html).toContain('data-f="pct">75.0 %</td>');
    // redis blocks (issue 17): state, and the upstreams they feed with their keys
    expect(html).toContain('<h2>Redis</h2>');
    expect(html).toContain('<td class="state" data-v="redis.0.state" data-f="s">up</td>');
    expect(html).toContain('<td>sites (http) key=frontend:$host: 1 key [frontend:a.test]</td>');
    expect(html).toContain('<dt>Reloads</dt><dd data-v="process" data-f="reload">3 (last ok)</dd>');
    expect(html).toContain('<dt>Workers</dt><dd data-v="process" data-f="workers">2 of 2</dd>');
    // the refresh is only for a browser without JavaScript
    expect(html).toContain('<noscript><meta http-equiv="refresh" content="5"></noscript>');
    // nothing is loaded from anywhere (the SVG namespace is a name, not a fetch)
    expect(html).not.toMatch(/<link|\ssrc=|https?:\/\/(?!www\.w3\.org\/2000\/svg')|import\(|fetch\(/);
  });

  test('everything from the document is escaped, in the tables and in the embedded JSON', () => {
    expect(html).toContain('<h2>&lt;script&gt;&quot;x&quot;\\\nnext <span class="ctx">stream</span>');
    expect(html).toContain('<td class="peer">unix:/run/a&lt;b&gt;.sock</td>');
    expect(html.match(/<script/g)).toHaveLength(2);
    expect(html.match(/<\/script>/g)).toHaveLength(2);
    const embedded = /<script id="status-doc" type="application\/json">(.*?)<\/script>/s.exec(html)![1]!;
    expect(JSON.parse(embedded)).toEqual(doc);
    expect(PAGE_SCRIPT).not.toContain('</');
    // it parses as a script (the browser tests run it)
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    expect(() => new Function(PAGE_SCRIPT)).not.toThrow();
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });

  test('the page script carries the cell formatter as source', () => {
    expect(PAGE_SCRIPT).toContain('function statusCell(kind, v, nowMs)');
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    const shipped = new Function(`${statusCell.toString()}; return statusCell;`)() as typeof statusCell;
    for (const [kind, v] of [['bytes', 123_456_789], ['dur', 3_723_000], ['n', 1234567], ['limit', 0], ['rate', 3.14]] as const) {
      expect(shipped(kind, v, 0)).toBe(statusCell(kind, v, 0));
    }
  });
});

describe('statusFormatOf and the other formats', () => {
  test.each([
    ['', null, 'html', 'html'],
    ['format=json', null, 'html', 'json'],
    ['a=1&format=prometheus&b=2', null, 'json', 'prometheus'],
    ['format=html', 'text/event-stream', 'prometheus', 'html'],
    ['format=events', null, 'json', 'events'],
    ['', 'text/event-stream', 'json', 'events'],
    ['', 'text/html, text/event-stream;q=0.9', 'json', 'events'],
    ['', 'text/event-streams', 'json', 'json'],
    ['format=xml', null, 'json', 'json'],
    ['xformat=json', null, 'html', 'html'],
    ['format=jsonx', null, 'html', 'html'],
  ] as const)('%j, Accept %j, %s configured -> %s', (args, accept, configured, expected) => {
    expect(statusFormatOf(args, accept, configured)).toBe(expected);
  });

  test('json is the document; an event is one data line', () => {
    const doc = sampleDocument();
    const json = renderStatus(doc, 'json');
    expect(json.contentType).toBe('application/json');
    expect(JSON.parse(json.body)).toEqual(doc);
    const event = statusEvent(doc);
    expect(event).toMatch(/^event: status\ndata: \{.*\}\n\n$/);
    expect(JSON.parse(event.slice(event.indexOf('data: ') + 6))).toEqual(doc);
  });
});
