/**
 * Decodes a chunked body into its data bytes, for clients that cannot take chunked framing:
 * HTTP/2 clients (DATA frames carry none) and HTTP/1.0 clients. The bytes it sees were already
 * validated by the engine's ChunkedScanner on their way from the upstream, so this only walks the
 * structure: sizes, extensions and trailers are skipped.
 */
const S_SIZE = 0;
const S_EXT = 1;
const S_DATA = 2;
const S_DATA_END = 3;
const S_TRAILER = 4;
const S_TRAILER_LINE = 5;
const S_DONE = 6;

export class ChunkedDecoder {
  #state = S_SIZE;
  #size = 0;
  #remaining = 0;

  get done(): boolean {
    return this.#state === S_DONE;
  }

  /** Calls `out` with each data slice (views of `buf`) found in `buf`. */
  decode(buf: Buffer, out: (data: Buffer) => void): void {
    const end = buf.length;
    let i = 0;
    while (i < end) {
      switch (this.#state) {
        case S_SIZE: {
          const b = buf[i++]!;
          if (b === 0x0a) this.#sizeDone();
          else if (b === 0x3b || b === 0x20 || b === 0x09 || b === 0x0d) this.#state = S_EXT;
          else this.#size = this.#size * 16 + hex(b);
          break;
        }
        case S_EXT: {
          const lf = buf.indexOf(0x0a, i);
          if (lf === -1) return;
          i = lf + 1;
          this.#sizeDone();
          break;
        }
        case S_DATA: {
          const take = Math.min(this.#remaining, end - i);
          out(take === end && i === 0 ? buf : buf.subarray(i, i + take));
          i += take;
          this.#remaining -= take;
          if (this.#remaining === 0) this.#state = S_DATA_END;
          break;
        }
        case S_DATA_END:
          // CRLF after the data.
          if (buf[i++] === 0x0a) this.#state = S_SIZE;
          break;
        case S_TRAILER: {
          // At the start of a trailer line: an empty line (CRLF) ends the message.
          const b = buf[i++]!;
          if (b === 0x0a) this.#state = S_DONE;
          else if (b !== 0x0d) this.#state = S_TRAILER_LINE;
          break;
        }
        case S_TRAILER_LINE: {
          const lf = buf.indexOf(0x0a, i);
          if (lf === -1) return;
          i = lf + 1;
          this.#state = S_TRAILER;
          break;
        }
        default:
          return;
      }
    }
  }

  #sizeDone(): void {
    this.#remaining = this.#size;
    this.#size = 0;
    this.#state = this.#remaining === 0 ? S_TRAILER : S_DATA;
  }
}

function hex(b: number): number {
  if (b <= 0x39) return b - 0x30;
  return (b | 0x20) - 0x61 + 10;
}
