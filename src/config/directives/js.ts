/**
 * njs-compatible scripting (ngx_http_js_module's names): js_import, js_path, js_set, js_var,
 * js_content, and js_access (tsproxy's: njs has it for stream only). The walk records them in the
 * http draft (JsDraft); checkJs, at the end of the walk, finds each module file (js_path, then
 * the main config file's directory, as njs) and checks that every `module.function` names an
 * imported module. Loading the modules (syntax errors, missing functions) is the runtime's, at
 * snapshot build and `-t` (core/js/loader.ts): it is asynchronous.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Arg, Directive } from '../ast.js';
import { DEFAULT_FETCH, type JsFunctionRef } from '../js-types.js';
import { parseDuration } from '../units.js';
import { err, isVariableName, type BuildState, type DirectiveSpec, type JsDraft, type Reporter, type Scope, type StreamJsPhases } from './scope.js';

/** The js_* collection of the area the directive is in: http {} or stream {} (each has its own modules, as njs). */
export function jsDraft(scope: Scope): JsDraft | null {
  const area = scope.context === 'stream' || scope.context === 'stream_server' ? scope.state.stream : scope.state.http;
  if (area === null) return null;
  return (area.js ??= { imports: [], paths: [], sets: [], vars: [], refs: [], fetch: DEFAULT_FETCH, sharedZones: [], preloads: [], periodics: [] });
}

/** `module.function` (the function part may be a property path: `main.api.get`). */
export function functionRef(a: Arg, r: Reporter): JsFunctionRef | undefined {
  const dot = a.value.indexOf('.');
  if (dot <= 0 || dot === a.value.length - 1) return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid function reference "${a.value}": expected module.function`, a.loc);
  return { module: a.value.slice(0, dot), fn: a.value.slice(dot + 1), loc: a.loc };
}

function variableArg(a: Arg, r: Reporter): string | undefined {
  if (!isVariableName(a.value)) return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid variable name "${a.value}"`, a.loc);
  return a.value.slice(1);
}

/** `[name from] file` (js_import, js_preload_object): the name defaults to the file's base name without extension. */
export function namedFile(d: Directive, r: Reporter): { name: string; file: Arg } | undefined {
  const a = d.args;
  if (a.length === 2 || (a.length === 3 && a[1]!.value !== 'from')) return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid parameter "${a[1]!.value}"`, a[1]!.loc);
  const file = a[a.length - 1]!;
  return { name: a.length === 3 ? a[0]!.value : path.basename(file.value).replace(/\.[^.]*$/, ''), file };
}

/** Where a js_import's file is: absolute, else under a js_path, else the main config file's directory (njs). */
function findModule(file: string, paths: readonly string[], confDir: string): string | null {
  if (path.isAbsolute(file)) return fs.existsSync(file) ? file : null;
  for (const dir of [...paths, confDir]) {
    const full = path.resolve(confDir, dir, file);
    if (fs.existsSync(full)) return full;
  }
  return null;
}

/** End of the walk: find the module files and check the function references (names only). */
export function checkJs(state: BuildState): void {
  for (const js of [state.http?.js, state.stream?.js]) if (js !== undefined) checkArea(js, state);
}

function checkArea(js: JsDraft, state: BuildState): void {
  const r = state.report;
  const names = new Set<string>();
  for (let i = 0; i < js.imports.length; i++) {
    const imp = js.imports[i]!;
    names.add(imp.name);
    const found = findModule(imp.path, js.paths, state.confDir);
    if (found === null) {
      r.error('TSP_ERR_CONFIG_SCRIPT', `cannot find module "${imp.path}"`, imp.loc);
      continue;
    }
    const st = fs.statSync(found);
    js.imports[i] = { ...imp, path: found, version: `${Math.trunc(st.mtimeMs)}-${st.size}` };
  }
  for (let i = 0; i < js.preloads.length; i++) {
    const pre = js.preloads[i]!;
    const found = findModule(pre.path, js.paths, state.confDir);
    if (found === null) r.error('TSP_ERR_CONFIG_SCRIPT', `cannot find js_preload_object file "${pre.path}"`, pre.loc);
    else js.preloads[i] = { ...pre, path: found };
  }
  const refs = [...js.refs, ...js.sets.map((s) => s.ref), ...js.periodics.map((p) => p.ref)];
  for (const ref of refs) {
    if (!names.has(ref.module)) r.error('TSP_ERR_CONFIG_SCRIPT', `no module "${ref.module}" is imported (js_import) for "${ref.module}.${ref.fn}"`, ref.loc);
  }
}

/** js_access / js_preread / js_filter in stream {} or a stream server: recorded there; false in http. */
function streamPhase(scope: Scope, phase: keyof StreamJsPhases, ref: JsFunctionRef): boolean {
  const area = scope.state.stream;
  if ((scope.context !== 'stream' && scope.context !== 'stream_server') || area === null) return false;
  const phases = scope.context === 'stream' ? (area.jsPhases ??= {}) : scope.streamServer === undefined ? null : (scope.streamServer.jsPhases ??= {});
  if (phases !== null) phases[phase] = ref;
  jsDraft(scope)?.refs.push(ref);
  return true;
}

const STREAM_PHASE_NOTE = 'The session object `s` (njs\'s NginxStreamRequest): `s.allow()` / `s.done()` pass, `s.deny()` closes the connection (status 403), `s.decline()` gives the next handler its say; `s.on(\'upload\', (data, flags) => ...)` reads the client\'s first bytes (they go on to the upstream). A throw closes the connection (500). ';

const DOC_NOTE = 'Scripts run in the worker process with Node\'s full access; module-level state is per worker.';

export const JS_DIRECTIVES: readonly DirectiveSpec[] = [
  {
    name: 'js_import', contexts: ['http', 'server', 'location', 'stream', 'stream_server'], args: [1, 3], multiple: true,
    syntax: 'js_import [name from] file;',
    summary: 'Load an ES module (`.js`, `.mjs`, or `.ts`, transpiled at load) under `name` (default: the file name without extension); `name.function` then names its functions.',
    note: 'Looked up under js_path, then the main config file\'s directory (njs). Loaded when the config is (`-t` too, where a syntax error shows its file:line:col); a reload re-imports the modules that changed. The name is visible in the whole http {} (njs: in the block of the js_import). ' + DOC_NOTE,
    apply(scope, d: Directive) {
      const js = jsDraft(scope);
      if (js === null) return;
      const r = scope.state.report;
      const a = d.args;
      const named = namedFile(d, r);
      if (named === undefined) return;
      const { name, file } = named;
      if (!/^[A-Za-z_$][\w$]*$/.test(name)) {
        err(r, 'TSP_ERR_CONFIG_VALUE', `invalid module name "${name}"`, a[0]!.loc);
        return;
      }
      const same = js.imports.find((i) => i.name === name);
      if (same !== undefined) {
        if (same.path !== file.value) err(r, 'TSP_ERR_CONFIG_DUPLICATE', `duplicate js_import name "${name}" (${same.path} and ${file.value})`, a[0]!.loc);
        return;
      }
      js.imports.push({ name, path: file.value, version: '', loc: file.loc });
    },
  },
  {
    name: 'js_path', contexts: ['http', 'stream'], args: [1, 1], multiple: true, syntax: 'js_path path;',
    summary: 'A directory js_import looks for modules in (relative: to the main config file\'s directory).',
    apply(scope, d) {
      jsDraft(scope)?.paths.push(d.args[0]!.value);
    },
  },
  {
    name: 'js_set', contexts: ['http', 'stream'], args: [2, 4], multiple: true, syntax: 'js_set $variable module.function [nocache] [timeout=time];',
    summary: 'The variable\'s value is what the function returns for the request (computed at its first use, then kept for the request unless `nocache`).',
    note: 'Beyond njs: the function may return a Promise (a Redis or HTTP lookup); the request waits for it before its content handler (proxy_pass, return, js_content) when the location uses the variable, at most `timeout=` (default 60s; not with `nocache`, whose value is computed at each use), and an error or timeout is logged and gives "". In http {} and stream {} (njs allows server and location too); in stream the function gets the session `s`, and a Promise is awaited before the server\'s proxy_pass or return when its directives use the variable. ' + DOC_NOTE,
    apply(scope, d) {
      const js = jsDraft(scope);
      const r = scope.state.report;
      const variable = variableArg(d.args[0]!, r);
      const ref = functionRef(d.args[1]!, r);
      let nocache = false;
      let timeoutMs: number | undefined;
      for (const a of d.args.slice(2)) {
        if (a.value === 'nocache') nocache = true;
        else if (a.value.startsWith('timeout=')) {
          const ms = parseDuration(a.value.slice(8), 's');
          if (ms === null || ms <= 0) return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid timeout "${a.value.slice(8)}"`, a.loc);
          timeoutMs = ms;
        } else return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid parameter "${a.value}"`, a.loc);
      }
      if (js === null || variable === undefined || ref === undefined) return;
      js.sets.push({ variable, ref, nocache, ...(timeoutMs !== undefined ? { timeoutMs } : {}) });
    },
  },
  {
    name: 'js_var', contexts: ['http', 'stream'], args: [1, 2], multiple: true, templates: 1, syntax: 'js_var $variable [value];',
    summary: 'Declare a variable scripts may write (`r.variables.name = ...`); its value until then is `value` (with variables), else empty.',
    note: 'In http {} and stream {} (njs allows server and location too).',
    apply(scope, d) {
      const js = jsDraft(scope);
      const variable = variableArg(d.args[0]!, scope.state.report);
      if (js === null || variable === undefined) return;
      js.vars.push({ variable, value: d.args[1]?.value ?? '', loc: d.loc });
    },
  },
  {
    name: 'js_content', contexts: ['location'], args: [1, 1], syntax: 'js_content module.function;',
    summary: 'The location\'s content handler: the request body is read first (r.requestText), then the function answers the request through `r` (r.return, r.send/r.finish, r.internalRedirect); it may be async.',
    note: 'A throw or a rejected Promise is a 500 and an error-log line with the script position (njs: "js exception"). ' + DOC_NOTE,
    apply(scope, d) {
      const ref = functionRef(d.args[0]!, scope.state.report);
      if (ref === undefined || scope.location === undefined) return;
      scope.location.jsContent = ref;
      jsDraft(scope)?.refs.push(ref);
    },
  },
  {
    name: 'js_access', contexts: ['location', 'stream', 'stream_server'], args: [1, 1], syntax: 'js_access module.function;',
    summary: 'Run the function in the access phase (after allow/deny; http: after auth_basic, auth_request too): http: `r.return(status)` there refuses the request with that status, returning (or a Promise resolving) without it lets it through; stream: `s.deny()` refuses the session.',
    note: 'In http tsproxy\'s (njs has js_access in stream only). A throw or rejection is a 500. ' + STREAM_PHASE_NOTE,
    apply(scope, d) {
      const ref = functionRef(d.args[0]!, scope.state.report);
      if (ref !== undefined && streamPhase(scope, 'access', ref)) return;
      if (ref === undefined || scope.location === undefined) return;
      scope.location.jsAccess = ref;
      jsDraft(scope)?.refs.push(ref);
    },
  },
  {
    name: 'js_preread', contexts: ['stream', 'stream_server'], args: [1, 1], syntax: 'js_preread module.function;',
    summary: 'Run the function in the stream preread phase (after js_access): it reads the client\'s first bytes with `s.on(\'upload\', ...)` and ends the phase with `s.done()` (those bytes then go to the upstream), e.g. to set a js_var that `proxy_pass $var` uses.',
    note: STREAM_PHASE_NOTE + 'preread_timeout bounds the wait, preread_buffer_size what is read (past it nginx\'s "preread buffer full", 400). On a UDP server the handler gets the session\'s first datagram and must decide on it.',
    apply(scope, d) {
      const ref = functionRef(d.args[0]!, scope.state.report);
      if (ref !== undefined) streamPhase(scope, 'preread', ref);
    },
  },
  {
    name: 'js_filter', contexts: ['stream', 'stream_server'], args: [1, 1], syntax: 'js_filter module.function;',
    summary: 'Run the function when the session\'s tunnel starts: handlers it sets with `s.on(\'upload\' | \'download\', (data, flags) => ...)` get each piece of that direction (`flags.last` at its end) and pass on what they give `s.send()` (or `s.sendUpstream()` / `s.sendDownstream()`); a direction without a handler flows as is.',
    note: 'A throw closes the connection (njs). ' + DOC_NOTE,
    apply(scope, d) {
      const ref = functionRef(d.args[0]!, scope.state.report);
      if (ref !== undefined) streamPhase(scope, 'filter', ref);
    },
  },
  {
    name: 'js_header_filter', contexts: ['location'], args: [1, 1], syntax: 'js_header_filter module.function;',
    summary: 'Run the function on each response\'s head before it goes out: it edits `r.headersOut` (synchronously).',
    note: 'The framing fields (Content-Length, Transfer-Encoding) are the engine\'s: the script does not see them. A throw closes the connection without an answer (nginx + njs).',
    apply(scope, d) {
      const ref = functionRef(d.args[0]!, scope.state.report);
      if (ref === undefined || scope.location === undefined) return;
      scope.location.jsHeaderFilter = ref;
      jsDraft(scope)?.refs.push(ref);
    },
  },
  {
    name: 'js_body_filter', contexts: ['location'], args: [1, 2], syntax: 'js_body_filter module.function [buffer_type=string|buffer];',
    summary: 'Run the function on each piece of a response body, `fn(r, data, flags)`: it passes data on with `r.sendBuffer(data, flags)` (any number of times, or none), `r.done()` lets the rest through untouched; `flags.last` marks the last call.',
    note: 'The body is then re-framed (chunked; no Content-Length), as nginx + njs do. A throw closes the connection (nginx + njs).',
    apply(scope, d) {
      const r = scope.state.report;
      const ref = functionRef(d.args[0]!, r);
      const type = d.args[1]?.value ?? 'buffer_type=string';
      if (type !== 'buffer_type=string' && type !== 'buffer_type=buffer') return err(r, 'TSP_ERR_CONFIG_VALUE', `invalid parameter "${type}"`, d.args[1]!.loc);
      if (ref === undefined || scope.location === undefined) return;
      scope.location.jsBodyFilter = { ref, buffer: type === 'buffer_type=buffer' };
      jsDraft(scope)?.refs.push(ref);
    },
  },
];
