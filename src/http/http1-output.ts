/**
 * The response side of an HTTP/1.1 client connection (the ResponseSink half of ClientTransport):
 * the head goes out as one string (status line, fields, Connection) with a short body in the same
 * write, then body bytes as they come. ClientConnection (connection.ts) extends it with the
 * reading side; split off so each stays readable.
 */
import type net from 'node:net';

const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';

export class Http1Output {
  readonly socket: net.Socket;
  /** The response head being built (status line and fields). */
  #head = '';

  constructor(socket: net.Socket) {
    this.socket = socket;
  }

  status(code: number, reason: string): void {
    this.#head = `HTTP/1.1 ${code} ${reason}\r\n`;
  }

  field(name: string, value: string): void {
    this.#head += `${name}: ${value}\r\n`;
  }

  sendHead(keepAlive: boolean, body: string | null, last: boolean): number {
    let text = this.#head + (keepAlive ? 'Connection: keep-alive\r\n\r\n' : 'Connection: close\r\n\r\n');
    this.#head = '';
    const bytes = text.length;
    if (body !== null) text += body;
    if (last && !keepAlive) this.socket.end(text, 'latin1');
    else this.socket.write(text, 'latin1');
    return bytes;
  }

  data(chunk: Buffer): boolean {
    return this.socket.write(chunk);
  }

  sendContinue(): void {
    this.socket.write(CONTINUE, 'latin1');
  }

  cork(): void {
    this.socket.cork();
  }

  uncork(): void {
    this.socket.uncork();
  }

  /** Abort: destroy the connection (a response already started can never be completed); `reset`: with a RST. */
  abort(reset = false): void {
    if (reset) this.socket.resetAndDestroy();
    else this.socket.destroy();
  }

  get output(): net.Socket {
    return this.socket;
  }
}
