/**
 * The nginx signal contract of a serving process, single or primary: HUP reload, QUIT graceful
 * stop, TERM/INT fast stop, USR1 reopen logs. One place, so both modes behave alike.
 */
import { flushLogs, reopenLogs, type ErrorLogger } from '../log.js';
import type { Reloader } from './reload.js';
import { removePidFile } from './pidfile.js';

export interface SignalTargets {
  logger: ErrorLogger;
  reloader: Reloader;
  pidFile: string | null;
  /** Stop serving: drain first when graceful. */
  stop(graceful: boolean): Promise<void>;
  /** Extra work on USR1 after this process reopened its own logs (workers' logs). */
  reopen?(): void;
}

/** Install the handlers; resolves with the exit code once the process should exit. */
export function handleSignals(t: SignalTargets): Promise<number> {
  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((r) => (resolveDone = r));
  let stopping = false;
  const stop = async (graceful: boolean, signal: string) => {
    if (stopping) return;
    stopping = true;
    t.logger.notice({ signal }, graceful ? 'gracefully shutting down' : 'exiting');
    await t.reloader.close();
    await t.stop(graceful);
    if (t.pidFile !== null) removePidFile(t.pidFile);
    flushLogs();
    resolveDone(0);
  };
  process.on('SIGHUP', () => t.reloader.requestReload('SIGHUP'));
  process.on('SIGQUIT', () => void stop(true, 'SIGQUIT'));
  process.on('SIGTERM', () => void stop(false, 'SIGTERM'));
  process.on('SIGINT', () => void stop(false, 'SIGINT'));
  process.on('SIGUSR1', () => {
    // reopenLogs first writes what buffered logs hold: those lines belong to the old (rotated) file.
    reopenLogs();
    t.reopen?.();
    t.logger.notice('log files reopened');
  });
  return done;
}
