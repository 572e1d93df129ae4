/**
 * Deciding at config build whether a proxy location keeps a copy of request bodies: only when
 * something of the location reads $request_body or $request_body_file (its access log formats,
 * add_header, proxy_set_header, directly or through a `map`), or client_body_in_file_only is set.
 * Locations that do not get a null plan and their requests never look at the body.
 */
import type { HttpConfig, LocationSettings } from '../config/types.js';
import { defaultClientBody } from '../config/location-settings.js';
import { listVariables } from '../config/template.js';
import type { KeepBodyPlan } from './kept-body.js';

/** The variables (built-ins and maps built on them) whose value is the body or its file. */
export interface BodyReaders {
  readonly body: ReadonlySet<string>;
  readonly file: ReadonlySet<string>;
  /** Log format name → what it reads. */
  readonly formats: ReadonlyMap<string, { readonly body: boolean; readonly file: boolean }>;
}

export function bodyReadersOf(http: HttpConfig): BodyReaders {
  const body = dependents(http, 'request_body');
  const file = dependents(http, 'request_body_file');
  const formats = new Map<string, { body: boolean; file: boolean }>();
  for (const f of http.logFormats) formats.set(f.name, { body: reads(f.template, body), file: reads(f.template, file) });
  return { body, file, formats };
}

/** `name` and every map whose source or values read it, directly or through another such map. */
function dependents(http: HttpConfig, name: string): Set<string> {
  const out = new Set([name]);
  for (let grew = true; grew;) {
    grew = false;
    for (const m of http.maps) {
      if (out.has(m.variable)) continue;
      const templates = [m.source, m.defaultValue, ...m.entries.map((e) => e.value)];
      if (templates.some((t) => reads(t, out))) {
        out.add(m.variable);
        grew = true;
      }
    }
  }
  return out;
}

function reads(template: string, names: ReadonlySet<string>): boolean {
  if (!template.includes('$')) return false;
  // a template that reads a name has it in its text: most have none, and are not parsed
  let named = false;
  for (const n of names) {
    if (template.includes(n)) {
      named = true;
      break;
    }
  }
  if (!named) return false;
  try {
    return listVariables(template).some((v) => names.has(v));
  } catch {
    return false;
  }
}

/** The plan of a proxy location, or null when nothing of it reads the body. */
export function keepBodyPlan(ctx: { readonly bodyReaders: BodyReaders; readonly prefix: string }, settings: LocationSettings): KeepBodyPlan | null {
  const c = settings.clientBody ?? defaultClientBody(ctx.prefix);
  if (!c.requestBuffering) return null;
  const r = ctx.bodyReaders;
  let body = false;
  let file = false;
  for (const h of settings.addHeaders) {
    body ||= reads(h.value, r.body);
    file ||= reads(h.value, r.file);
  }
  for (const h of settings.proxySetHeaders) {
    body ||= reads(h.value, r.body);
    file ||= reads(h.value, r.file);
  }
  for (const l of settings.accessLogs) {
    if (l.path === null) continue;
    const f = r.formats.get(l.format);
    body ||= f?.body === true || reads(l.path, r.body);
    file ||= f?.file === true || reads(l.path, r.file);
  }
  const fileOnly = c.inFileOnly !== 'off';
  if (!body && !file && !fileOnly) return null;
  return {
    bufferSizeBytes: c.bufferSizeBytes,
    fileOnly,
    fileOnOverflow: file,
    keepFile: c.inFileOnly === 'on',
    tempPath: c.tempPath,
    tempLevels: c.tempLevels,
  };
}
