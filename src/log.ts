/**
 * The root pino logger and the log sinks. Children are made per component at build time,
 * never per request (STYLE.md §4). Access logs are plain lines written through sonic-boom
 * (pino's async destination) so the request path never blocks on the disk.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';
import type { LogLevel } from './config/types.js';

/** nginx error_log levels mapped to pino's; nginx has more levels than pino. */
const NGINX_TO_PINO: Record<LogLevel, LevelWithSilent> = {
  debug: 'debug',
  info: 'info',
  notice: 'info',
  warn: 'warn',
  error: 'error',
  crit: 'fatal',
  alert: 'fatal',
  emerg: 'fatal',
};

export function pinoLevel(level: LogLevel): LevelWithSilent {
  return NGINX_TO_PINO[level];
}

const destinations = new Map<string, pino.DestinationStream & { reopen?: () => void; flushSync?: () => void }>();

/** An async destination per path, shared by every logger and access log that names the same file. */
export function destinationFor(target: string): pino.DestinationStream {
  let dest = destinations.get(target);
  if (dest === undefined) {
    if (target === 'stderr') dest = pino.destination({ dest: 2, sync: true });
    else if (target === 'stdout') dest = pino.destination({ dest: 1, sync: false, minLength: 0 });
    else dest = pino.destination({ dest: target, sync: false, mkdir: true, minLength: 4096 });
    (dest as unknown as NodeJS.EventEmitter).on?.('error', destinationOnError);
    destinations.set(target, dest);
  }
  return dest;
}

function destinationOnError(err: Error): void {
  // A log file that cannot be written (disk full, removed dir) must never take the proxy down.
  process.stderr.write(`tsproxy: [alert] log write failed: ${err.message}\n`);
}

export interface LogSink {
  write(line: string): void;
}

/** An access log sink: lines are appended as written (format compiled by the http layer). */
export function openAccessLog(target: string): LogSink {
  return destinationFor(target) as unknown as LogSink;
}

/** USR1: reopen every log file (after logrotate moved them). */
export function reopenLogs(): void {
  // stderr/stdout are file descriptors, not files: nothing to reopen (SonicBoom would throw).
  for (const [target, dest] of destinations) if (target !== 'stderr' && target !== 'stdout') dest.reopen?.();
}

/** Flush buffered log lines (before exit). */
export function flushLogs(): void {
  for (const dest of destinations.values()) {
    try {
      dest.flushSync?.();
    } catch {
      // a destination that is not open yet has nothing to flush
    }
  }
}

export function createLogger(target = 'stderr', level: LogLevel = 'info'): Logger {
  return pino(
    {
      level: pinoLevel(level),
      base: { pid: process.pid },
      redact: ['req.headers.authorization', 'req.headers.cookie'],
    },
    destinationFor(target),
  );
}

/**
 * The process-wide logger. The runtime replaces its destination/level from error_log when a config
 * starts; until then it writes to stderr at TSPROXY_LOG_LEVEL (default info).
 */
export let logger: Logger = createLogger('stderr', (process.env.TSPROXY_LOG_LEVEL as LogLevel | undefined) ?? 'info');

export function setLogger(next: Logger): void {
  logger = next;
}
