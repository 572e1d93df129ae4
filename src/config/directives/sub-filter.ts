/**
 * sub_filter and its settings (ngx_http_sub_filter_module): values and nginx 1.22's -t messages
 * (checked with nginx); http/body-filters/sub-filter.ts applies them. Grouped into
 * SubFilterSettings at assembly (config/filters-build.ts).
 */
import type { SubFilterRule } from '../filter-types.js';
import { err, flag, listSetting, setting, type Context, type DirectiveSpec, type ValueParser } from './scope.js';
import { mimeTypes } from './gzip.js';

const LOC3: readonly Context[] = ['http', 'server', 'location'];

const rule: ValueParser<SubFilterRule> = (args, _d, r) => {
  if (args[0]!.value === '') return err(r, 'TSP_ERR_CONFIG_VALUE', 'empty search pattern', args[0]!.loc);
  return { match: args[0]!.value, replacement: args[1]!.value };
};

export const SUB_FILTER_DIRECTIVES: readonly DirectiveSpec[] = [
  listSetting({
    name: 'sub_filter', contexts: LOC3, kind: 'http', field: 'subFilters', parse: rule, args: [2, 2], templates: 1,
    syntax: 'sub_filter string replacement;',
    summary: 'Replace `string` (matched case-insensitively) by `replacement` (with variables) in response bodies of sub_filter_types, proxied and static.',
    note: 'Several may apply (a level with any replaces the inherited ones). A match that spans two pieces of a streamed body is found. A body with a Content-Encoding (a compressed upstream answer) is left alone, as nginx: send `proxy_set_header Accept-Encoding "";` to the upstream. Runs before gzip.',
  }),
  setting({
    name: 'sub_filter_once', contexts: LOC3, kind: 'http', field: 'subFilterOnce', parse: flag, default: 'on', syntax: 'sub_filter_once on | off;',
    summary: 'Replace each string at its first match only (off: every match).',
  }),
  setting({
    name: 'sub_filter_types', contexts: LOC3, kind: 'http', field: 'subFilterTypes', parse: mimeTypes, args: [1, Infinity], default: 'text/html',
    syntax: 'sub_filter_types mime-type ...;', summary: 'Content types filtered besides text/html (`*`: every type).',
  }),
  setting({
    name: 'sub_filter_last_modified', contexts: LOC3, kind: 'http', field: 'subFilterLastModified', parse: flag, default: 'off',
    syntax: 'sub_filter_last_modified on | off;', summary: 'Keep Last-Modified (and a weakened ETag) on filtered responses; off removes both.',
  }),
];
