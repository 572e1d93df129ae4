/**
 * An HTTP/2 client for tests (node:http2), closed when the test ends.
 */
import { execFileSync } from 'node:child_process';
import http2 from 'node:http2';
import { onTestFinished } from 'vitest';

export interface H2Response {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

/** Connect with prior knowledge (h2c) or over TLS (`authority` https://...). */
export async function h2connect(authority: string, options: http2.SecureClientSessionOptions = {}): Promise<http2.ClientHttp2Session> {
  const session = http2.connect(authority, options);
  session.on('error', () => {});
  onTestFinished(() => {
    if (!session.destroyed) session.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    session.once('connect', () => resolve());
    session.once('error', reject);
  });
  return session;
}

/** One request on a session; `body` is sent as the request body. */
export function h2request(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  body?: Buffer | string,
): Promise<H2Response> {
  return new Promise((resolve, reject) => {
    const req = session.request(headers, { endStream: body === undefined });
    const chunks: Buffer[] = [];
    let resHeaders: http2.IncomingHttpHeaders = {};
    req.on('response', (h) => {
      resHeaders = h;
    });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const b = Buffer.concat(chunks);
      resolve({ status: Number(resHeaders[':status']), headers: resHeaders, body: b, text: b.toString() });
    });
    req.on('error', reject);
    if (body !== undefined) req.end(body);
  });
}

/** Debian tools the HTTP/2 tests drive (curl, h2load): CI installs them, elsewhere tests skip without them. */
export function toolMissing(tool: string): boolean {
  if (process.env.CI !== undefined) return false;
  try {
    execFileSync(tool, ['--version'], { stdio: 'ignore' });
    return false;
  } catch {
    return true;
  }
}
