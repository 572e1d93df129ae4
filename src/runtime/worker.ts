/**
 * A worker process: a Runtime as in single-process mode, minus what the primary owns (config
 * loading, pid file, file watching, active health checks, signals). Messages from the primary are
 * handled one at a time, in order, so a reload sent while the worker is still starting applies
 * after the start.
 */
import type { Config } from '../config/types.js';
import { configureErrorLog, flushLogs, logger, reconfigureErrorLog, reopenLogs, type ErrorLogTarget } from '../log.js';
import { Runtime, unchanged, type PreparedReload } from './runtime.js';
import { dropPrivileges } from './privileges.js';
import type { PrimaryMessage, WorkerMessage } from './workers.js';
import { WorkerSessionZones } from './tls-session-ipc.js';
import { ConfigReceiver } from './config-transfer.js';
import { WorkerLimits } from './limit-ipc.js';
import { WorkerStatus } from './status-ipc.js';
import { WorkerSharedDicts } from './shared-dict-ipc.js';
import { setSharedDictService } from '../core/js/shared.js';

function send(msg: WorkerMessage): void {
  process.send?.(msg);
}


/** Resolves with the exit code once the primary told this worker to stop (or went away). */
export function runWorker(): Promise<number> {
  // ngx.shared goes to the primary's zones (one zone across workers).
  if (WorkerSharedDicts.available()) setSharedDictService(new WorkerSharedDicts());
  let runtime: Runtime | null = null;
  /** The primary's ssl_session_cache zones, reached over IPC. */
  let sessions: WorkerSessionZones | null = null;
  /** The primary's limit_req / limit_conn zones and stub_status counts, reached over IPC. */
  const limits = new WorkerLimits(send, (n) => logger.error(
    { code: 'TSP_ERR_LIMITED', decisions: n },
    `the primary process did not answer ${n} limit_req/limit_conn decision(s) in time; the requests were let through`,
  ));
  /** check_status: the primary's totals, reached over IPC. */
  const status = new WorkerStatus(send);
  /** The error log when the config names none (the primary's -e, else stderr). */
  let fallback: ErrorLogTarget | undefined;
  let queue: Promise<void> = Promise.resolve();
  const received = new ConfigReceiver();
  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((r) => (resolveDone = r));
  let stopping = false;
  /** The reload prepared on the primary's word, until it says commit or abort (null: config unchanged). */
  let prepared: { id: number; config: Config; reload: PreparedReload | null } | null = null;

  const stop = async (graceful: boolean): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await runtime?.stop({ graceful });
    flushLogs();
    resolveDone(0);
  };

  const handle = async (msg: PrimaryMessage): Promise<void> => {
    switch (msg.type) {
      case 'start': {
        fallback = msg.errorLog;
        try {
          const config = await received.take(msg.config);
          configureErrorLog(config.main.errorLogs, fallback);
          sessions = new WorkerSessionZones(msg.ticketSecret, send);
          runtime = await Runtime.start(config, {
            logger, activeChecks: false, reloadDiff: false, maxConnections: config.main.workerConnections, tlsSessions: sessions,
            limits, connectionCounts: (done) => limits.counts(done), statusSource: status.source, statusHistory: false,
          });
          status.local = runtime.status;
          // Log files were opened by now; only then give up root (nginx opens them in the master).
          await new Promise((r) => setTimeout(r, 20));
          if (msg.user !== null) dropPrivileges(msg.user, logger);
        } catch (err) {
          send({ type: 'failed', message: (err as Error).message });
          await runtime?.stop({ graceful: false });
          flushLogs();
          resolveDone(1);
          return;
        }
        const addresses: [string, string][] = [...runtime.addresses()].map(([k, a]) => [k, typeof a === 'string' ? a : `${a.address}:${a.port}`]);
        send({ type: 'ready', addresses });
        return;
      }
      case 'prepare': {
        if (runtime === null) return received.drop(msg.config);
        try {
          const next = await received.take(msg.config, runtime.config);
          prepared = { id: msg.id, config: next, reload: await runtime.prepare(next) };
          send({ type: 'prepared', id: msg.id, error: null });
        } catch (err) {
          send({ type: 'prepared', id: msg.id, error: (err as Error).message });
        }
        return;
      }
      case 'commit': {
        const p = prepared;
        if (runtime === null || p === null || p.id !== msg.id) return;
        prepared = null;
        try {
          const summary = p.reload === null ? unchanged() : runtime.commit(p.reload);
          if (summary.changed) reconfigureErrorLog(p.config.main.errorLogs, fallback);
          send({ type: 'reloaded', id: msg.id, summary, error: null });
        } catch (err) {
          send({ type: 'reloaded', id: msg.id, summary: null, error: (err as Error).message });
        }
        return;
      }
      case 'abort': {
        const p = prepared;
        if (runtime === null || p === null || p.id !== msg.id) return;
        prepared = null;
        if (p.reload !== null) await runtime.abort(p.reload);
        return;
      }
      case 'reload': {
        if (runtime === null) return received.drop(msg.config);
        try {
          const next = await received.take(msg.config, runtime.config);
          const summary = await runtime.reload(next);
          if (summary.changed) reconfigureErrorLog(next.main.errorLogs, fallback);
          send({ type: 'reloaded', id: msg.id, summary, error: null });
        } catch (err) {
          send({ type: 'reloaded', id: msg.id, summary: null, error: (err as Error).message });
        }
        return;
      }
      case 'health':
        for (const s of msg.states) runtime?.applyHealth(s);
        return;
      case 'reopen':
        reopenLogs();
        return;
      case 'stop':
        await stop(msg.graceful);
        return;
      case 'tlsSession':
        sessions?.answered(msg);
        return;
    }
  };

  process.on('message', (msg: PrimaryMessage) => {
    // a config's chunks are kept as they come; the message naming the config takes them (in order)
    if (msg.type === 'configChunk') return received.accept(msg);
    // limit answers and counter collections at once: a request waits on each
    if (limits.answered(msg)) return;
    if (status.answered(msg)) return;
    // health verdicts must not wait behind a slow reload; everything else keeps its order
    if (msg.type === 'health' || msg.type === 'tlsSession' || (msg.type === 'stop' && !msg.graceful)) {
      void handle(msg);
      return;
    }
    queue = queue.then(() => handle(msg)).catch((err: unknown) => logger.error({ err }, 'worker message failed'));
  });
  // The primary coordinates: a terminal's Ctrl-C / Ctrl-\ reaches the whole process group, and
  // the default action of HUP and USR1 would kill the worker.
  for (const sig of ['SIGHUP', 'SIGUSR1', 'SIGINT', 'SIGQUIT'] as const) process.on(sig, () => undefined);
  process.on('SIGTERM', () => void stop(false));
  // The primary died (SIGKILL): nobody will stop us or replace the handles; go.
  process.on('disconnect', () => void stop(false));
  send({ type: 'hello' });
  return done;
}
