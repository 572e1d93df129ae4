/**
 * A file's bytes streamed to the client with backpressure, as static files (static.ts) and cache
 * HITs (cache/hit.ts) send them: a piece the client's buffer cannot take pauses the file stream,
 * and the exchange's clientDrain resumes it (unless limit_rate holds bytes back: the pacer
 * resumes then).
 */
import type { ReadStream } from 'node:fs';
import type { HttpRequest } from './request.js';

/** The bytes one read of a file takes. */
export const FILE_READ_BYTES = 64 * 1024;

/**
 * Feed `stream` to `send` (false: the client is full, pause); `end` when the range was read,
 * `fail` on a read error (the head is out by then: the exchange must not let a short body look
 * complete).
 */
export function pipeFileBody(stream: ReadStream, send: (piece: Buffer) => boolean, end: () => void, fail: (err: Error) => void): void {
  stream.on('data', (chunk: Buffer | string) => {
    if (!send(chunk as Buffer)) stream.pause();
  });
  stream.on('end', end);
  stream.on('error', fail);
}

/** An exchange's clientDrain: the paused file stream goes on. */
export function resumeFileBody(r: HttpRequest, stream: ReadStream | null): void {
  if (r.pacer?.holding) return;
  if (stream !== null && stream.isPaused()) stream.resume();
}
