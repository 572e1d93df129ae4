/**
 * The modules of a config's js_import, loaded when a snapshot is built (before anything of it
 * serves) and by `-t`. A module that does not load fails the start or reload like a config error.
 * http {} and stream {} each have their own modules (as njs); a file both import is one module.
 */
import type { Config } from '../config/types.js';
import { ConfigError } from '../errors.js';
import { JsLoadError, jsRefsOf, loadJsModules, type JsModules } from '../core/js/loader.js';
import type { JsFunctionRef } from '../config/js-types.js';

export { JsLoadError } from '../core/js/loader.js';

export interface ConfigScripts {
  readonly http: JsModules | null;
  readonly stream: JsModules | null;
}

const NONE: ConfigScripts = { http: null, stream: null };

/** Every function reference of a stream {}: js_set and each server's js_access / js_preread / js_filter. */
function streamRefsOf(stream: NonNullable<Config['stream']>): JsFunctionRef[] {
  const out: JsFunctionRef[] = stream.js?.sets.map((s) => s.ref) ?? [];
  for (const s of stream.servers) {
    const js = s.js;
    if (js === undefined) continue;
    for (const ref of [js.access, js.preread, js.filter]) if (ref !== undefined) out.push(ref);
  }
  return out;
}

async function loadAll(config: Config): Promise<ConfigScripts> {
  const http = config.http?.js === undefined ? null : await loadJsModules(config.http.js, jsRefsOf(config.http));
  const stream = config.stream?.js === undefined ? null : await loadJsModules(config.stream.js, streamRefsOf(config.stream));
  return { http, stream };
}

/** Load the config's modules (null per area without any); throws a ConfigError whose message says where. */
export async function loadScripts(config: Config): Promise<ConfigScripts> {
  if (config.http?.js === undefined && config.stream?.js === undefined) return NONE;
  try {
    return await loadAll(config);
  } catch (e) {
    if (!(e instanceof JsLoadError)) throw e;
    throw new ConfigError(e.code, `${e.message} in ${e.loc.file}:${e.loc.line}:${e.loc.column}`, e.loc);
  }
}

/** `-t`: the problem of the config's modules (with the script's text for its excerpt), null when they load. */
export async function checkScripts(config: Config): Promise<JsLoadError | null> {
  try {
    await loadAll(config);
    return null;
  } catch (e) {
    if (e instanceof JsLoadError) return e;
    throw e;
  }
}
