/**
 * nginx's lingering close (lingering_close / lingering_time / lingering_timeout): how a client
 * connection closes after its last response. With lingering, the response is followed by our FIN,
 * then whatever the client still sends (the rest of a body we did not read) is read and dropped
 * until it closes, it is quiet for lingering_timeout (the connection's idle timeout), or
 * lingering_time has passed. Closing at once would leave unread bytes in the kernel, which
 * answers them with a RST that can destroy the response at the client.
 */
import type net from 'node:net';
import type { LingeringConfig } from '../config/types.js';

/** Whether the close lingers: `always`, or `on` while a request body is left unread (nginx). */
export function lingers(lingering: LingeringConfig, bodyUnread: boolean): boolean {
  return lingering.mode === 'always' || (lingering.mode === 'on' && bodyUnread);
}

/** Close without lingering: our FIN; with `lingering_close off` an unread body is not waited for. */
export function closeAtOnce(socket: net.Socket, lingering: LingeringConfig, bodyUnread: boolean): void {
  if (!socket.writableEnded) socket.end();
  if (lingering.mode === 'off' && bodyUnread) socket.destroySoon();
}

function lingerDeadline(socket: net.Socket): void {
  socket.destroy();
}

/**
 * Our FIN, then read and drop (the caller's data handler drops what comes); the returned timer is
 * the lingering_time deadline, which the caller clears when the socket closes.
 */
export function startLingering(socket: net.Socket, timeMs: number): NodeJS.Timeout {
  if (!socket.writableEnded) socket.end();
  const deadline = setTimeout(lingerDeadline, timeMs, socket);
  deadline.unref();
  socket.resume();
  return deadline;
}
