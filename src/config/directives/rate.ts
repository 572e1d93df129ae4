/**
 * Response pacing (nginx's core limit_rate / limit_rate_after, proxy_limit_rate) and
 * proxy_ignore_headers, whose one effect here is on X-Accel-Limit-Rate. Grouped into RateConfig
 * at assembly (location-settings.ts), present only when a level sets one of them.
 */
import { parseSize } from '../units.js';
import { err, invalidValue, setting, size, type Context, type DirectiveSpec, type ValueParser } from './scope.js';

const LOC3: readonly Context[] = ['http', 'server', 'location'];

/**
 * A size that may hold variables (nginx 1.17.0+): a constant one is checked now, one with
 * variables per request (an invalid value then limits nothing).
 */
const sizeTemplate: ValueParser<string> = (args, d, r) => {
  const v = args[0]!.value;
  if (!v.includes('$') && parseSize(v) === null) return err(r, 'TSP_ERR_CONFIG_VALUE', `"${d.name}" directive invalid value`, args[0]!.loc);
  return v;
};

/** The response header fields proxy_ignore_headers names (nginx 1.22's list). */
const IGNORABLE = new Set([
  'x-accel-redirect', 'x-accel-expires', 'x-accel-limit-rate', 'x-accel-buffering', 'x-accel-charset',
  'expires', 'cache-control', 'set-cookie', 'vary',
]);

const ignorableHeaders: ValueParser<readonly string[]> = (args, d, r) => {
  const names: string[] = [];
  for (const a of args) {
    const name = a.value.toLowerCase();
    if (!IGNORABLE.has(name)) return invalidValue(r, a, d);
    names.push(name);
  }
  return names;
};

export const RATE_DIRECTIVES: readonly DirectiveSpec[] = [
  setting({
    kind: 'http', contexts: [...LOC3, 'if'], name: 'limit_rate', field: 'limitRate', parse: sizeTemplate, default: '0', templates: 0,
    syntax: 'limit_rate rate;', summary: 'Limit the rate of a response to the client, in bytes per second, per request (0: no limit); `set $limit_rate` and an upstream\'s X-Accel-Limit-Rate set it too.',
    note: 'As nginx, the first second may carry `rate` bytes (plus limit_rate_after) at once; tsproxy paces by the millisecond where nginx counts whole seconds.',
  }),
  setting({
    kind: 'http', contexts: [...LOC3, 'if'], name: 'limit_rate_after', field: 'limitRateAfter', parse: sizeTemplate, default: '0', templates: 0,
    syntax: 'limit_rate_after size;', summary: 'Bytes of a response (its head included) sent at full speed before limit_rate applies.',
  }),
  setting({
    kind: 'http', contexts: LOC3, name: 'proxy_limit_rate', field: 'proxyLimitRateBytes', parse: size, default: '0',
    syntax: 'proxy_limit_rate rate;', summary: 'Limit the rate of reading a response from the upstream, in bytes per second, per request (0: no limit).',
    note: 'Applies with proxy_buffering off too: tsproxy streams, so reading slower is also sending slower.',
  }),
  setting({
    kind: 'http', contexts: LOC3, name: 'proxy_ignore_headers', field: 'proxyIgnoreHeaders', parse: ignorableHeaders, args: [1, Infinity], initial: [],
    syntax: 'proxy_ignore_headers field ...;', summary: 'Upstream response fields whose special meaning is ignored.',
    note: 'X-Accel-Limit-Rate is the one with an effect today; the caching fields (Expires, Cache-Control, Set-Cookie, Vary, X-Accel-Expires) are checked and kept for proxy_cache.',
  }),
];
