/**
 * Running in the foreground: start the runtime, write the pid file once every listener is bound,
 * and map signals to actions as nginx does (HUP reload, QUIT graceful stop, TERM/INT fast stop,
 * USR1 reopen logs).
 */
import type { Config } from '../config/types.js';
import type { ErrorLogger } from '../log.js';
import { Runtime } from './runtime.js';
import { Reloader, type ReloaderOptions } from './reload.js';
import { writePidFile, removePidFile } from './pidfile.js';
import { handleSignals } from './signals.js';
import { dropPrivileges } from './privileges.js';
import { configDigestTexts } from './diff.js';

export interface ServeOptions {
  config: Config;
  logger: ErrorLogger;
  load: ReloaderOptions['load'];
  /** After a successful reload that changed the config (the command line applies error_log). */
  onReloaded?(config: Config): void;
}

export interface Serving {
  runtime: Runtime;
  reloader: Reloader;
  /** Resolves with the exit code once the process should exit. */
  done: Promise<number>;
}

export async function serve({ config, logger, load, onReloaded }: ServeOptions): Promise<Serving> {
  // worker_connections caps client connections per listener, as in each worker of the multi-process mode.
  // The running config's digests, before serving, in the form the first reload sends to the load
  // thread (a 10,000-server config's texts take tens of ms: not a step of a reload).
  configDigestTexts(config);
  const runtime = await Runtime.start(config, { logger, maxConnections: config.main.workerConnections });
  const pidFile = config.main.pid;
  // Logged before the pid file appears: whoever waits for the pid file can read the bound ports.
  for (const [key, addr] of runtime.addresses()) {
    logger.notice({ listen: key, address: typeof addr === 'string' ? addr : `${addr.address}:${addr.port}` }, 'listening');
  }
  if (pidFile !== null) writePidFile(pidFile);
  // Listeners are bound and the log and pid files exist: now the process may give up root.
  if (config.main.user !== null) {
    try {
      dropPrivileges(config.main.user, logger);
    } catch (err) {
      await runtime.stop({ graceful: false });
      if (pidFile !== null) removePidFile(pidFile);
      throw err;
    }
  }
  const reloader = new Reloader({ runtime, logger, load, onReloaded });
  if (config.main.watch) reloader.watch(config.files, config.includeGlobs);

  const done = handleSignals({ logger, reloader, pidFile, stop: (graceful) => runtime.stop({ graceful }) });
  logger.notice({ config: config.file }, 'tsproxy started');
  return { runtime, reloader, done };
}
