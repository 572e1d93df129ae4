/**
 * The modules of a config's js_import, loaded when a snapshot is built (before anything of it
 * serves) and by `-t`. A module that does not load fails the start or reload like a config error.
 */
import type { Config } from '../config/types.js';
import { ConfigError } from '../errors.js';
import { JsLoadError, jsRefsOf, loadJsModules, type JsModules } from '../core/js/loader.js';

export { JsLoadError } from '../core/js/loader.js';

/** Load the config's http modules (null without any); throws a ConfigError whose message says where. */
export async function loadScripts(config: Config): Promise<JsModules | null> {
  const http = config.http;
  if (http?.js === undefined) return null;
  try {
    return await loadJsModules(http.js, jsRefsOf(http));
  } catch (e) {
    if (!(e instanceof JsLoadError)) throw e;
    throw new ConfigError(e.code, `${e.message} in ${e.loc.file}:${e.loc.line}:${e.loc.column}`, e.loc);
  }
}

/** `-t`: the problem of the config's modules (with the script's text for its excerpt), null when they load. */
export async function checkScripts(config: Config): Promise<JsLoadError | null> {
  const http = config.http;
  if (http?.js === undefined) return null;
  try {
    await loadJsModules(http.js, jsRefsOf(http));
    return null;
  } catch (e) {
    if (e instanceof JsLoadError) return e;
    throw e;
  }
}
