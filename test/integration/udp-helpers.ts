/**
 * Datagram pieces of the UDP stream tests: backends on 127.0.0.1:0 (echo, silent sink), a client
 * socket that collects what comes back, a port nothing listens on, and the proxy's access log
 * file. Everything is closed when the test ends.
 */
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { onTestFinished } from 'vitest';

export interface UdpBackend {
  readonly port: number;
  /** Every datagram received, with the port it came from. */
  readonly heard: { readonly text: string; readonly fromPort: number }[];
  close(): Promise<void>;
}

/** A backend that answers each datagram with `reply(text)` (null: no answer). */
export async function udpBackend(reply: (text: string) => string | null, host = '127.0.0.1'): Promise<UdpBackend> {
  const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const heard: { text: string; fromPort: number }[] = [];
  socket.on('error', () => {});
  socket.on('message', (m, r) => {
    heard.push({ text: m.toString(), fromPort: r.port });
    const answer = reply(m.toString());
    if (answer !== null) socket.send(answer, r.port, r.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, host, resolve));
  let closed = false;
  const close = (): Promise<void> => new Promise((resolve) => {
    if (closed) return resolve();
    closed = true;
    socket.close(() => resolve());
  });
  onTestFinished(close);
  return { port: socket.address().port, heard, close };
}

export const echoBackend = (tag = 'echo', host?: string): Promise<UdpBackend> => udpBackend((t) => `${tag}:${t}`, host);

export interface UdpClient {
  readonly port: number;
  /** Datagrams received, as text (an empty datagram is ''). */
  readonly received: string[];
  send(text: string): void;
}

export async function udpClient(proxyPort: number, host = '127.0.0.1'): Promise<UdpClient> {
  const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const received: string[] = [];
  socket.on('error', () => {});
  socket.on('message', (m) => received.push(m.toString()));
  await new Promise<void>((resolve) => socket.bind(0, host, resolve));
  onTestFinished(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  return { port: socket.address().port, received, send: (text) => socket.send(text, proxyPort, host) };
}

/** A UDP port nothing listens on (bound then closed): the kernel answers ICMP port unreachable. */
export async function deadUdpPort(): Promise<number> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const port = socket.address().port;
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/** A temporary access log path and a reader of its lines. */
export function accessLogFile(): { path: string; lines(): string[] } {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'tsproxy-udp-')), 'access.log');
  return {
    path: file,
    lines() {
      try {
        return readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
      } catch {
        return [];
      }
    },
  };
}
