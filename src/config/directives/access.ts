/**
 * The access phase's directives (nginx's access, auth_basic and auth_request modules): allow /
 * deny (http and stream, one parser), satisfy, auth_basic, auth_basic_user_file, auth_request,
 * auth_request_set. All are inherited; a level with any allow/deny (or auth_request_set) replaces
 * the outer list, as nginx merges them.
 */
import type { AccessRule, AuthRequestSet } from '../types.js';
import { parseTrustedSource } from '../units.js';
import { err, isVariableName, listSetting, oneOf, setting, type Context, type DirectiveSpec, type ValueParser } from './scope.js';

const LOC3: readonly Context[] = ['http', 'server', 'location'];
const STREAM: readonly Context[] = ['stream', 'stream_server'];

/** `allow|deny address | CIDR | unix: | all` (nginx's wording: `invalid parameter`, the low-bits warning). */
function accessRule(action: 'allow' | 'deny'): ValueParser<AccessRule> {
  return (args, d, r) => {
    const a = args[0]!;
    if (a.value !== 'all') {
      const v = parseTrustedSource(a.value, d.name);
      if (!v.ok) return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid parameter "${a.value}"`, a.loc);
      if (v.value.warning !== null) r.warn('TSP_ERR_CONFIG_VALUE', v.value.warning, a.loc);
    }
    return { action, source: a.value, loc: d.loc };
  };
}

/** `string | off` (auth_basic, auth_request): null for off. */
const offOrText: ValueParser<string | null> = (args) => (args[0]!.value === 'off' ? null : args[0]!.value);

const authRequestSet: ValueParser<AuthRequestSet> = (args, _d, r) => {
  const name = args[0]!;
  if (!isVariableName(name.value)) return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid variable name "${name.value}"`, name.loc);
  return { variable: name.value.slice(1), value: args[1]!.value };
};

/** auth_request_set's variable is declared for every template of http {} (as `set`'s). */
function declaringVariable(spec: DirectiveSpec): DirectiveSpec {
  return {
    ...spec,
    apply(scope, d) {
      spec.apply(scope, d);
      const name = d.args[0]!.value;
      const http = scope.state.http;
      if (http !== null && isVariableName(name)) (http.authRequestVariables ??= []).push(name.slice(1));
    },
  };
}

const accessRules = (action: 'allow' | 'deny'): DirectiveSpec[] => {
  const docs = {
    syntax: `${action} address | CIDR | unix: | all;`,
    summary: `${action === 'allow' ? 'Allow' : 'Deny'} clients by address; rules are checked in order, the first match decides (403 for a denied http request, the session closed in stream).`,
    note: 'A `unix:` rule is accepted and matches nothing (tsproxy does not listen on unix sockets).',
  };
  return [
    listSetting({ name: action, contexts: LOC3, kind: 'http', field: 'accessRules', parse: accessRule(action), args: [1, 1], ...docs }),
    listSetting({ name: action, contexts: STREAM, kind: 'stream', field: 'accessRules', parse: accessRule(action), args: [1, 1], ...docs }),
  ];
};

export const ACCESS_DIRECTIVES: readonly DirectiveSpec[] = [
  ...accessRules('allow'),
  ...accessRules('deny'),
  setting({
    kind: 'http', contexts: LOC3, name: 'satisfy', field: 'satisfy', parse: oneOf(['all', 'any'] as const), default: 'all',
    syntax: 'satisfy all | any;', summary: 'Whether every access check (allow/deny, auth_basic, auth_request) must let the request through, or one is enough.',
  }),
  setting({
    kind: 'http', contexts: LOC3, name: 'auth_basic', field: 'authBasic', parse: offOrText, initial: null, default: 'off', templates: 0,
    syntax: 'auth_basic string | off;', summary: 'HTTP Basic authentication against auth_basic_user_file; the string is the realm (401 with `WWW-Authenticate: Basic realm="..."`).',
  }),
  setting({
    kind: 'http', contexts: LOC3, name: 'auth_basic_user_file', field: 'authBasicUserFile', parse: (args) => args[0]!.value, initial: null, templates: 0,
    syntax: 'auth_basic_user_file file;',
    summary: 'The htpasswd file (`user:hash` lines, `#` comments): `$apr1$`, `$1$`, bcrypt `$2y$`/`$2b$`/`$2a$`, `$5$`/`$6$` SHA-crypt, `{SHA}`, `{SSHA}`, `{PLAIN}`.',
    note: 'Re-read when it changes (its modification time and size are checked at most once a second). Traditional DES crypt() hashes are not supported.',
  }),
  setting({
    kind: 'http', contexts: LOC3, name: 'auth_request', field: 'authRequest', parse: offOrText, initial: null, default: 'off',
    syntax: 'auth_request uri | off;',
    summary: 'Authorize each request by a subrequest to `uri` (the request\'s headers, no body): 2xx lets it through, 401 and 403 are passed on, anything else is 500.',
    note: 'The subrequest carries no body framing (nginx sends the client\'s Content-Length without a body); it is never written to the access log.',
  }),
  declaringVariable(listSetting({
    kind: 'http', contexts: LOC3, name: 'auth_request_set', field: 'authRequestSet', parse: authRequestSet, args: [2, 2], templates: 1,
    syntax: 'auth_request_set $variable value;', summary: 'After the auth subrequest, set a variable from its variables (`$upstream_http_x_user`).',
  })),
];
