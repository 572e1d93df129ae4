import { describe, expect, it } from 'vitest';
import {
  buildRequestHeaders,
  buildResponseHeaders,
  compileRequestHeaders,
  compileResponseHeaders,
  headerSetCache,
  type TemplateCompiler,
} from '../../src/http/headers.js';
import { HEAD_READY, HeadAccumulator } from '../../src/wire/head-accumulator.js';
import { parseRequestHead, type RequestHead } from '../../src/wire/http1-request.js';
import { parseResponseHead } from '../../src/wire/http1-response.js';
import { addHeader, headerOp, locationSettings } from '../helpers/settings.js';

type Vars = Record<string, string>;
/** A tiny `$name` expander standing in for variables.ts. */
const compile: TemplateCompiler<Vars> = (t) => (r) => t.replace(/\$(\w+)/g, (_m, n: string) => r[n] ?? '');
const ctx = { clientAddress: '10.0.0.9', scheme: 'http', proxyHost: 'backend' };
const LIMITS = { requestLineBytes: 8192, headerLineBytes: 8192, headBytes: 32768 };

function req(text: string): RequestHead {
  const acc = new HeadAccumulator();
  expect(acc.push(Buffer.from(text, 'latin1'), LIMITS)).toBe(HEAD_READY);
  const h = parseRequestHead(acc.head, LIMITS);
  if (typeof h === 'number') throw new Error(`status ${h}`);
  return h;
}

function lines(s: string): string[] {
  return s.split('\r\n').filter((l) => l !== '');
}

describe('request headers', () => {
  it('drops hop-by-hop and Connection-named headers, sets Host and X-Forwarded-*', () => {
    const plan = compileRequestHeaders(locationSettings(), compile);
    const h = req(
      'GET / HTTP/1.1\r\nHost: front.test\r\nConnection: keep-alive, X-Secret\r\nKeep-Alive: 5\r\nTE: trailers\r\n' +
        'X-Secret: 1\r\nUpgrade: h2c\r\nProxy-Connection: x\r\nAccept: */*\r\nX-Forwarded-For: 1.1.1.1\r\nX-Real-IP: 6.6.6.6\r\n\r\n',
    );
    expect(lines(buildRequestHeaders(plan, h, ctx, {}))).toEqual([
      'Host: backend',
      'Accept: */*',
      'X-Forwarded-For: 1.1.1.1, 10.0.0.9',
      'X-Real-IP: 10.0.0.9',
      'X-Forwarded-Proto: http',
    ]);
  });

  it('applies proxy_set_header: override, variables, and removal by empty value', () => {
    const plan = compileRequestHeaders(
      locationSettings({
        proxySetHeaders: [headerOp('Host', '$host'), headerOp('X-Real-IP', '$remote_addr'), headerOp('Accept', ''), headerOp('X-Const', 'c')],
      }),
      compile,
    );
    const h = req('GET / HTTP/1.1\r\nHost: front.test\r\nAccept: */*\r\nUser-Agent: t\r\n\r\n');
    expect(lines(buildRequestHeaders(plan, h, ctx, { host: 'front.test', remote_addr: '10.0.0.9' }))).toEqual([
      'User-Agent: t',
      'X-Forwarded-For: 10.0.0.9',
      'X-Forwarded-Proto: http',
      'Host: front.test',
      'X-Real-IP: 10.0.0.9',
      'X-Const: c',
    ]);
  });

  it('sends no X-Forwarded-* when switched off, and never lets a variable split a header', () => {
    const plan = compileRequestHeaders(
      locationSettings({ proxyForwardedHeaders: false, proxySetHeaders: [headerOp('X-U', '$u')] }),
      compile,
    );
    const out = buildRequestHeaders(plan, req('GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.1.1.1\r\n\r\n'), ctx, { u: 'a\r\nEvil: 1' });
    expect(lines(out)).toEqual(['Host: backend', 'X-Forwarded-For: 1.1.1.1', 'X-U: a Evil: 1']);
  });

  it('keeps proxy_set_header Upgrade/Connection apart (they go out with the framing)', () => {
    const plan = compileRequestHeaders(
      locationSettings({ proxySetHeaders: [headerOp('Upgrade', '$http_upgrade'), headerOp('Connection', 'upgrade')] }),
      compile,
    );
    expect(plan.sets).toHaveLength(0);
    expect(plan.upgrade?.name).toBe('Upgrade');
    expect(plan.connection?.constant).toBe('upgrade');
    expect(lines(buildRequestHeaders(plan, req('GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\n\r\n'), ctx, {}))).not.toContain('Upgrade: h2c');
  });

  it('drops the client body framing headers (the proxy writes its own)', () => {
    const plan = compileRequestHeaders(locationSettings(), compile);
    const out = buildRequestHeaders(plan, req('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n'), ctx, {});
    expect(out).not.toMatch(/content-length/i);
  });
});

describe('response headers', () => {
  const res = (text: string) => parseResponseHead(text, 'GET')!;

  it('hides hop-by-hop, X-Accel-* and proxy_hide_header names; proxy_pass_header brings one back', () => {
    const plan = compileResponseHeaders(
      locationSettings({ proxyHideHeaders: ['X-Powered-By'], proxyPassHeaders: ['X-Accel-Expires'] }),
      null,
      compile,
    );
    const r = res(
      'HTTP/1.1 200 OK\r\nServer: up\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\nX-Powered-By: php\r\n' +
        'X-Accel-Redirect: /x\r\nX-Accel-Expires: 5\r\nContent-Length: 2\r\nDate: today\r\n\r\n',
    );
    expect(lines(buildResponseHeaders(plan, r, 200, {}))).toEqual(['Server: up', 'X-Accel-Expires: 5', 'Date: today']);
  });

  it('adds add_header only for the nginx status list unless always', () => {
    const plan = compileResponseHeaders(
      locationSettings({ addHeaders: [addHeader('X-A', 'a'), addHeader('X-B', '$b', true)] }),
      null,
      compile,
    );
    expect(lines(buildResponseHeaders(plan, res('HTTP/1.1 200 OK\r\n\r\n'), 200, { b: 'bee' }))).toEqual(['X-A: a', 'X-B: bee']);
    expect(lines(buildResponseHeaders(plan, res('HTTP/1.1 500 E\r\n\r\n'), 500, { b: 'bee' }))).toEqual(['X-B: bee']);
  });

  it('rewrites Location by the default proxy_redirect and by explicit rules', () => {
    const def = compileResponseHeaders(locationSettings(), { from: 'http://backend/two/', to: '/one/' }, compile);
    const r = res('HTTP/1.1 302 Found\r\nLocation: http://backend/two/x?y\r\n\r\n');
    expect(lines(buildResponseHeaders(def, r, 302, {}))).toEqual(['Location: /one/x?y']);
    const other = res('HTTP/1.1 302 Found\r\nLocation: http://elsewhere/two/x\r\n\r\n');
    expect(lines(buildResponseHeaders(def, other, 302, {}))).toEqual(['Location: http://elsewhere/two/x']);
    const off = compileResponseHeaders(locationSettings({ proxyRedirect: { kind: 'off' } }), { from: 'http://backend/', to: '/' }, compile);
    expect(lines(buildResponseHeaders(off, r, 302, {}))).toEqual(['Location: http://backend/two/x?y']);
    const rules = compileResponseHeaders(
      locationSettings({ proxyRedirect: { kind: 'rules', rules: [{ from: 'http://backend/', to: 'https://$host/' }] } }),
      null,
      compile,
    );
    expect(lines(buildResponseHeaders(rules, r, 302, { host: 'pub.test' }))).toEqual(['Location: https://pub.test/two/x?y']);
  });
});

describe('header sets shared by the plans of one build', () => {
  it('locations with equal header settings share one set; a location that differs gets its own, and neither leaks into the other', () => {
    const cache = headerSetCache();
    const plain = compileRequestHeaders(locationSettings(), compile, cache);
    const alsoPlain = compileRequestHeaders(locationSettings({ proxySetHeaders: [] }), compile, cache);
    const setsXff = compileRequestHeaders(locationSettings({ proxySetHeaders: [headerOp('X-Forwarded-For', '$a'), headerOp('X-Secret', 's')] }), compile, cache);
    const noForwarded = compileRequestHeaders(locationSettings({ proxyForwardedHeaders: false }), compile, cache);
    expect(alsoPlain.drop).toBe(plain.drop);
    expect(setsXff.drop).not.toBe(plain.drop);
    const h = req('GET / HTTP/1.1\r\nHost: front.test\r\nX-Secret: 1\r\nX-Forwarded-For: 1.1.1.1\r\n\r\n');
    // the plain location forwards X-Secret and appends to X-Forwarded-For, as it did before the other compiled
    expect(lines(buildRequestHeaders(plain, h, ctx, {}))).toEqual([
      'Host: backend', 'X-Secret: 1', 'X-Forwarded-For: 1.1.1.1, 10.0.0.9', 'X-Real-IP: 10.0.0.9', 'X-Forwarded-Proto: http',
    ]);
    expect(lines(buildRequestHeaders(setsXff, h, ctx, { a: 'mine' }))).toEqual([
      'Host: backend', 'X-Real-IP: 10.0.0.9', 'X-Forwarded-Proto: http', 'X-Forwarded-For: mine', 'X-Secret: s',
    ]);
    expect(noForwarded.forwardFor).toBe(false);
    expect(lines(buildRequestHeaders(noForwarded, h, ctx, {}))).toEqual(['Host: backend', 'X-Secret: 1', 'X-Forwarded-For: 1.1.1.1']);
    // compiled again after the others: still the plain answer
    expect(compileRequestHeaders(locationSettings(), compile, cache).forwardFor).toBe(true);
  });

  it('hide sets: equal proxy_hide_header / proxy_pass_header lists share one, others keep theirs', () => {
    const cache = headerSetCache();
    const res = (text: string) => parseResponseHead(text, 'GET')!;
    const plain = compileResponseHeaders(locationSettings(), null, compile, cache);
    const hides = compileResponseHeaders(locationSettings({ proxyHideHeaders: ['X-Powered-By'] }), null, compile, cache);
    const passes = compileResponseHeaders(locationSettings({ proxyPassHeaders: ['X-Accel-Expires'] }), null, compile, cache);
    expect(compileResponseHeaders(locationSettings(), null, compile, cache).hide).toBe(plain.hide);
    const r = res('HTTP/1.1 200 OK\r\nX-Powered-By: php\r\nX-Accel-Expires: 5\r\n\r\n');
    expect(lines(buildResponseHeaders(plain, r, 200, {}))).toEqual(['X-Powered-By: php']);
    expect(lines(buildResponseHeaders(hides, r, 200, {}))).toEqual([]);
    expect(lines(buildResponseHeaders(passes, r, 200, {}))).toEqual(['X-Powered-By: php', 'X-Accel-Expires: 5']);
  });
});
