/**
 * Pure parts of the benchmark: reading wrk's output, medians, and rendering the one results table
 * (rows = proxies, columns = scenarios, each cell "median (ratio to nginx)").
 */

export interface WrkResult {
  requestsPerSec: number;
  /** Latency percentiles in ms, present with --latency. */
  p50Ms: number | null;
  p99Ms: number | null;
  requests: number;
  non2xx: number;
  socketErrors: number;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

function durationMs(text: string): number | null {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  return m === null ? null : Number(m[1]) * UNIT_MS[m[2]!]!;
}

export function parseWrk(out: string): WrkResult {
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(out);
  if (rps === null) throw new Error(`wrk printed no Requests/sec: ${out.trim().split('\n').slice(-2).join(' ')}`);
  const pct = (p: string) => {
    const m = new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(out);
    return m === null ? null : durationMs(m[1]!);
  };
  const requests = /^\s+(\d+) requests in/m.exec(out);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    requestsPerSec: Number(rps[1]),
    p50Ms: pct('50'),
    p99Ms: pct('99'),
    requests: requests === null ? 0 : Number(requests[1]),
    non2xx: non2xx === null ? 0 : Number(non2xx[1]),
    socketErrors: sock === null ? 0 : sock.slice(1).reduce((a, b) => a + Number(b), 0),
  };
}

/** A run whose answers were errors measured the error path, not the proxy: refuse it. */
export function checkWrk(r: WrkResult): void {
  if (r.requests === 0) throw new Error('no requests completed');
  if (r.non2xx > 0) throw new Error(`${r.non2xx} non-2xx responses`);
  // wrk counts the connections it cuts at the end of the run as read errors; a handful is normal.
  if (r.socketErrors > Math.max(100, r.requests * 0.01)) throw new Error(`${r.socketErrors} socket errors`);
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export interface Column {
  id: string;
  title: string;
  digits: number;
  /** Shown in the legend: which way is better. */
  better: 'higher' | 'lower';
  /** Cells show the value only (the value is a ratio or a count already). */
  noRatio?: boolean;
}

/** One cell: measured values of each round, or why there are none. */
export interface Cell {
  values: number[];
  /** The row does not take part in this scenario. */
  notApplicable?: boolean;
  /** The last failure; shown only when no round succeeded. */
  error?: string;
  /** A fixed text instead of a measurement ("not yet"). */
  text?: string;
}

export interface Row {
  id: string;
  label: string;
  cells: Map<string, Cell>;
}

export function formatNumber(v: number, digits: number): string {
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

const REASON_CHARS = 60;

export function formatCell(cell: Cell | undefined, digits: number, reference: number | null): string {
  if (cell === undefined || cell.notApplicable) return '-';
  if (cell.text !== undefined) return cell.text;
  if (cell.values.length === 0) {
    const why = (cell.error ?? 'no result').replace(/\s+/g, ' ').trim();
    return `n/a (${why.length > REASON_CHARS ? `${why.slice(0, REASON_CHARS - 1)}…` : why})`;
  }
  const v = median(cell.values);
  const text = formatNumber(v, digits);
  return reference === null || reference === 0 ? text : `${text} (${(v / reference).toFixed(2)})`;
}

/** The table as rows of strings, header first; ratios are to the row `refId`. */
export function tableGrid(rows: readonly Row[], columns: readonly Column[], refId: string): string[][] {
  const ref = rows.find((r) => r.id === refId);
  const refMedian = (col: string): number | null => {
    const c = ref?.cells.get(col);
    return c === undefined || c.values.length === 0 ? null : median(c.values);
  };
  const grid = [['proxy', ...columns.map((c) => c.title)]];
  for (const row of rows) grid.push([row.label, ...columns.map((c) => formatCell(row.cells.get(c.id), c.digits, c.noRatio === true ? null : refMedian(c.id)))]);
  return grid;
}

export function toMarkdown(grid: readonly string[][]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const [head, ...body] = grid;
  const lines = [`| ${head!.map(esc).join(' | ')} |`, `|${head!.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const r of body) lines.push(`| ${r.map(esc).join(' | ')} |`);
  return lines.join('\n');
}

/** Fixed-width text for the terminal. */
export function toText(grid: readonly string[][]): string {
  const widths = grid[0]!.map((_, i) => Math.max(...grid.map((r) => r[i]!.length)));
  return grid.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')).join('\n');
}
