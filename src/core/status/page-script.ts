/**
 * The status page's own script (no library, nothing loaded: it works offline). It reads the
 * document embedded in the page, then follows the event stream of the same URL (EventSource,
 * `?format=events`): each `status` event updates every `data-v` cell in place with the same
 * formatting as the server (statusCell's source is shipped along), and adds a point to the
 * charts: request rate, error rate (5xx and no response) and latency p50/p99 per upstream and in
 * total, seeded from the document's history, drawn as plain inline SVG. When the set of upstreams,
 * peers or servers changes (a reload), the page reloads itself to get the new tables.
 */
import { statusCell } from './cells.js';

/** How much time the charts show at most, and at least (a young page spreads what it has). */
export const CHART_WINDOW_MS = 10 * 60 * 1000;
const CHART_MIN_WINDOW_MS = 60 * 1000;

const CLIENT = String.raw`
var WINDOW_MS = ${CHART_WINDOW_MS}, MIN_WINDOW_MS = ${CHART_MIN_WINDOW_MS};
var docEl = document.getElementById('status-doc');
var first = JSON.parse(docEl.textContent);
var series = {};
var prev = null;

function shape(doc) {
  return JSON.stringify([doc.upstreams.map(function (u) { return [u.name, u.peers.map(function (p) { return p.key; })]; }),
    doc.servers.length, doc.streamServers.length, doc.caches.length]);
}
var firstShape = shape(first);

function at(doc, path) {
  var v = doc, parts = path.split('.');
  for (var i = 0; i < parts.length && v !== undefined && v !== null; i++) v = v[parts[i]];
  return v;
}

function point(key, t, values) {
  var list = series[key] || (series[key] = []);
  if (list.length > 0 && list[list.length - 1].t >= t) return;
  values.t = t;
  list.push(values);
  while (list.length > 0 && list[0].t < t - WINDOW_MS) list.shift();
}

function seed(doc) {
  var samples = doc.history.samples;
  for (var i = 0; i < samples.length; i++) {
    var s = samples[i], t = Date.parse(s.at);
    point('', t, { rr: s.requestRate, er: s.errorRate, p50: null, p99: null });
    // A chart is keyed by the upstream's name; the history by its registry name ("stream:"
    // before a stream upstream's). A point leaves out the upstreams that had no try in its
    // interval: they were at zero.
    doc.upstreams.forEach(function (x) {
      var u = s.upstreams[x.context === 'stream' ? 'stream:' + x.name : x.name];
      point(x.name, t, u ? { rr: u.requestRate, er: u.errorRate, p50: u.p50Ms, p99: u.p99Ms } : { rr: 0, er: 0, p50: null, p99: null });
    });
  }
}

/** The quantile q of the observations a histogram delta holds, ms (linear within the bucket). */
function quantile(bounds, counts, q) {
  var total = 0;
  for (var i = 0; i < counts.length; i++) total += counts[i];
  if (total === 0) return null;
  var rank = q * total, seen = 0;
  for (var j = 0; j < counts.length; j++) {
    if (seen + counts[j] >= rank && counts[j] > 0) {
      var lo = j === 0 ? 0 : bounds[j - 1], hi = j < bounds.length ? bounds[j] : bounds[bounds.length - 1];
      return (lo + (hi - lo) * ((rank - seen) / counts[j])) * 1000;
    }
    seen += counts[j];
  }
  return null;
}

function totals(u) {
  var r = { requests: 0, errors: 0, bounds: null, counts: null };
  u.peers.forEach(function (p) {
    r.requests += p.requests;
    r.errors += p.responses['5xx'] + p.responses.xxx;
    var h = p.responseTime;
    if (r.counts === null) { r.bounds = h.bounds; r.counts = h.counts.slice(); }
    else for (var i = 0; i < h.counts.length; i++) r.counts[i] += h.counts[i];
  });
  return r;
}

function sumServers(doc) {
  var r = { requests: 0, errors: 0 };
  if (doc.servers.length === 0) {
    r.requests = doc.process.connections.requests;
    doc.upstreams.forEach(function (u) { r.errors += totals(u).errors; });
  } else {
    doc.servers.forEach(function (s) { r.requests += s.requests; r.errors += s.responses['5xx'] + s.responses.xxx; });
  }
  return r;
}

function sample(before, doc) {
  var t = Date.parse(doc.generatedAt), dt = (t - Date.parse(before.generatedAt)) / 1000;
  if (!(dt > 0)) return;
  var a = sumServers(before), b = sumServers(doc);
  point('', t, { rr: Math.max(0, b.requests - a.requests) / dt, er: Math.max(0, b.errors - a.errors) / dt, p50: null, p99: null });
  var old = {};
  before.upstreams.forEach(function (u) { old[u.name] = totals(u); });
  doc.upstreams.forEach(function (u) {
    var o = old[u.name];
    if (!o) return;
    var n = totals(u), delta = n.counts ? n.counts.map(function (c, i) { return Math.max(0, c - (o.counts ? o.counts[i] : 0)); }) : [];
    point(u.name, t, {
      rr: Math.max(0, n.requests - o.requests) / dt, er: Math.max(0, n.errors - o.errors) / dt,
      p50: n.bounds ? quantile(n.bounds, delta, 0.5) : null, p99: n.bounds ? quantile(n.bounds, delta, 0.99) : null,
    });
  });
}

var SVG = 'http://www.w3.org/2000/svg';
function el(name, attrs, parent) {
  var e = document.createElementNS(SVG, name);
  for (var k in attrs) e.setAttribute(k, attrs[k]);
  if (parent) parent.appendChild(e);
  return e;
}
function nice(v) {
  if (!(v > 0)) return 1;
  var p = Math.pow(10, Math.floor(Math.log10(v))), m = v / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}
function label(v) {
  return v >= 100 ? String(Math.round(v)) : String(Math.round(v * 10) / 10);
}

/** One chart: lines of [field, colour, name] over the window ending now. */
function chart(box, id, title, unit, points, lines, now) {
  var fig = box.querySelector('figure[data-id="' + id + '"]');
  if (!fig) {
    fig = document.createElement('figure');
    fig.className = 'chart';
    fig.setAttribute('data-id', id);
    var cap = document.createElement('figcaption');
    cap.appendChild(document.createTextNode(title));
    lines.forEach(function (l) {
      var s = document.createElement('span'), i = document.createElement('i');
      i.style.background = l[1];
      s.appendChild(i);
      s.appendChild(document.createTextNode(l[2]));
      cap.appendChild(s);
    });
    fig.appendChild(cap);
    fig.appendChild(el('svg', { 'class': 'chart', viewBox: '0 0 400 110', preserveAspectRatio: 'none', role: 'img', 'aria-label': title }));
    box.appendChild(fig);
  }
  var svg = fig.querySelector('svg');
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  var max = 0;
  points.forEach(function (p) { lines.forEach(function (l) { if (p[l[0]] !== null && p[l[0]] > max) max = p[l[0]]; }); });
  max = nice(max);
  var left = 34, top = 6, w = 400 - left - 4, h = 110 - top - 14;
  var span = points.length > 0 ? Math.min(WINDOW_MS, Math.max(MIN_WINDOW_MS, now - points[0].t)) : MIN_WINDOW_MS;
  [0, 0.5, 1].forEach(function (f) {
    var y = top + h - f * h;
    el('line', { 'class': 'grid', x1: left, x2: left + w, y1: y, y2: y }, svg);
    el('text', { x: left - 4, y: y + 3, 'text-anchor': 'end' }, svg).textContent = label(max * f);
  });
  el('text', { x: left, y: 108 }, svg).textContent = span < 120000 ? '-' + Math.round(span / 1000) + ' s' : '-' + Math.round(span / 60000) + ' min';
  el('text', { x: left + w, y: 108, 'text-anchor': 'end' }, svg).textContent = 'now (' + unit + ')';
  var drawn = 0;
  lines.forEach(function (l) {
    var pts = [];
    points.forEach(function (p) {
      if (p[l[0]] === null || p[l[0]] === undefined) return;
      var x = left + w * (1 - (now - p.t) / span), y = top + h - (p[l[0]] / max) * h;
      pts.push(x.toFixed(1) + ',' + y.toFixed(1));
    });
    if (pts.length > 0) el('polyline', { points: pts.join(' '), fill: 'none', stroke: l[1], 'stroke-width': 1.6, 'vector-effect': 'non-scaling-stroke' }, svg);
    drawn += pts.length;
  });
  if (drawn === 0) el('text', { x: left + w / 2, y: top + h / 2, 'text-anchor': 'middle', 'class': 'nodata' }, svg).textContent = 'no data yet';
  svg.setAttribute('data-points', String(points.length));
}

var RATE = [['rr', '#1f6feb', 'requests/s'], ['er', '#c62828', 'errors/s']];
var LATENCY = [['p50', '#2e7d32', 'p50'], ['p99', '#8e24aa', 'p99']];

function draw(doc) {
  var now = Date.parse(doc.generatedAt);
  document.querySelectorAll('[data-chart]').forEach(function (box) {
    var name = box.getAttribute('data-chart'), key = name === 'total' ? '' : name, points = series[key] || [];
    chart(box, 'rate', name === 'total' ? 'All requests' : 'Requests', '/s', points, RATE, now);
    if (name !== 'total') chart(box, 'latency', 'Upstream latency', 'ms', points, LATENCY, now);
  });
}

function update(doc) {
  if (shape(doc) !== firstShape) { location.reload(); return; }
  var now = Date.parse(doc.generatedAt);
  document.querySelectorAll('[data-v]').forEach(function (e) {
    var text = statusCell(e.getAttribute('data-f'), at(doc, e.getAttribute('data-v')), now);
    if (e.textContent !== text) e.textContent = text;
  });
  document.querySelectorAll('tr[data-state]').forEach(function (tr) {
    tr.className = at(doc, tr.getAttribute('data-state'));
  });
  var up = 0, total = 0;
  doc.upstreams.forEach(function (u) { up += u.up; total += u.total; });
  var sum = document.getElementById('peers-up');
  sum.textContent = up + ' of ' + total + ' peers up';
  sum.className = up === total ? 'ok' : 'bad';
  document.querySelectorAll('h2 .count').forEach(function (e) {
    var u = at(doc, e.getAttribute('data-v'));
    e.className = 'count ' + (u.up === u.total ? 'ok' : 'bad');
  });
  // A rate over a few milliseconds (the page's own load, then the stream's first event) is noise:
  // the sample waits until half a second has passed since the previous one.
  if (prev === null) prev = doc;
  else if (now - Date.parse(prev.generatedAt) >= 500) {
    sample(prev, doc);
    prev = doc;
  }
  draw(doc);
}

var live = document.getElementById('live');
seed(first);
update(first);
if (typeof EventSource === 'function') {
  live.textContent = 'connecting';
  var es = new EventSource(location.pathname + '?format=events');
  es.onopen = function () { live.textContent = 'live'; live.className = 'on'; };
  es.onerror = function () {
    live.className = 'off';
    // CLOSED: the URL answered something else than a stream (a reload removed or protected it).
    if (es.readyState === EventSource.CLOSED) {
      live.textContent = 'disconnected';
      setTimeout(function () { location.reload(); }, 5000);
    } else {
      live.textContent = 'reconnecting';
    }
  };
  es.addEventListener('status', function (ev) { update(JSON.parse(ev.data)); });
}
`;

/**
 * Source transformed by esbuild with keepNames (tsx, which runs bench scripts) calls a `__name`
 * helper inside functions; the browser has none, so the page defines a harmless one.
 */
const KEEP_NAMES = 'var __name = function (f) { return f; };';

/** The script as the page embeds it (`</` cannot occur in it, so it cannot end its element early). */
export const PAGE_SCRIPT = `"use strict";\n${KEEP_NAMES}\n${statusCell.toString()}\n${CLIENT}`;
