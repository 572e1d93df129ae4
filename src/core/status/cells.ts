/**
 * How one value of the status document reads on the page. The server renders the static page
 * with it and the page's script (page-script.ts) ships its source to the browser
 * (Function.prototype.toString) to update the same cells from the event stream, so both always
 * format alike. It must therefore reference nothing outside its own body.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function statusCell(kind: string, v: any, nowMs: number): string {
  function num(x: number): string {
    return Math.round(x).toLocaleString('en-US');
  }
  function dur(ms: number): string {
    if (ms < 1000) return `${Math.round(ms)} ms`;
    const s = Math.floor(ms / 1000);
    if (s < 60) return `${(ms / 1000).toFixed(1)} s`;
    const d = Math.floor(s / 86400);
    const h = Math.floor((s % 86400) / 3600);
    const m = Math.floor((s % 3600) / 60);
    if (d > 0) return `${d}d ${h}h`;
    if (h > 0) return `${h}h ${m}m`;
    return `${m}m ${s % 60}s`;
  }
  function bytes(n: number): string {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) {
      n /= 1024;
      i++;
    }
    return i === 0 ? `${n} B` : `${n.toFixed(n < 10 ? 2 : 1)} ${units[i]}`;
  }
  function check(c: { lastResult: string | null; lastOk: boolean | null; lastLatencyMs: number | null; type: string } | null): string {
    if (c === null) return '-';
    const result = c.lastResult ?? (c.lastOk === null ? 'pending' : c.lastOk ? 'OK' : 'failed');
    return `${c.type}: ${result}${c.lastLatencyMs === null ? '' : ` (${dur(c.lastLatencyMs)})`}`;
  }
  if (v === undefined || v === null) return '-';
  switch (kind) {
    case 'n': return num(v);
    case 'bytes': return bytes(v);
    case 'dur': return dur(v);
    case 'since': return dur(Math.max(0, nowMs - Date.parse(v)));
    case 'time': return String(v).replace('T', ' ').replace(/\.\d+Z$/, 'Z');
    case 'flag': return v ? 'yes' : 'no';
    case 'limit': return v === 0 ? 'none' : num(v);
    case 'rate': return `${v < 10 ? v.toFixed(1) : num(v)}/s`;
    case 'pct': return `${(v * 100).toFixed(1)} %`;
    case 'list': return v.join(' ');
    case 'check': return v.down ? 'not probed' : check(v.check);
    case 'rise': return v.check === null ? '-' : `${v.check.consecutiveOk} / ${v.check.riseThreshold}`;
    case 'fall': return v.check === null ? '-' : `${v.check.consecutiveFailed} / ${v.check.fallThreshold}`;
    case 'rw': return `${num(v.reading)} / ${num(v.writing)}`;
    case 'upcount': return `${v.up} of ${v.total} up`;
    case 'reload': return v.lastReloadOk === null ? `${v.reloads}` : v.lastReloadOk ? `${v.reloads} (last ok)` : `${v.reloads} (last failed: ${v.lastReloadError ?? '?'})`;
    case 'workers': return v.workers === 1 ? 'single process' : `${v.workersRunning} of ${v.workers}`;
    default: return String(v);
  }
}
