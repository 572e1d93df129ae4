/**
 * Chunked transfer coding (RFC 9112 §7.1), one module for every use of it:
 * - ChunkedScanner walks chunked bytes without decoding them: the proxy forwards chunked bodies
 *   byte for byte, and the scanner only says where the message ends and whether the framing is
 *   valid. Strict where leniency breeds smuggling: hex sizes only (no sign, "0x" or inner
 *   spaces), at most 16 digits and never above 2^53, CRLF (never a bare LF) after each size line
 *   and data block, bounded chunk extensions and trailers, no obs-fold in trailers.
 * - ChunkedDecoder gives the data bytes of a body the scanner already validated, for clients
 *   that cannot take chunked framing (HTTP/2 clients, HTTP/1.0 clients).
 * - chunkParts / LAST_CHUNK frame data.
 */
import { MAX_CHUNK_EXT_BYTES, MAX_CHUNK_SIZE, MAX_TRAILER_BYTES } from '../constants.js';
import { TCHAR, VALUE_CHAR } from './headers.js';

const S_SIZE_START = 0;
const S_SIZE = 1;
const S_EXT_WS = 2;
const S_EXT = 3;
const S_SIZE_LF = 4;
const S_DATA = 5;
const S_DATA_CR = 6;
const S_DATA_LF = 7;
const S_TRAILER_START = 8;
const S_TRAILER_NAME = 9;
const S_TRAILER_VALUE = 10;
const S_TRAILER_LF = 11;
const S_END_LF = 12;
const S_DONE = 13;

const HEX = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c++) HEX[0x30 + c] = c;
for (let c = 0; c < 6; c++) {
  HEX[0x41 + c] = 10 + c;
  HEX[0x61 + c] = 10 + c;
}

/** Validates chunked framing as it passes (see above); extension and trailer values take VALUE_CHAR. */
export class ChunkedScanner {
  /** True once the last chunk and the trailer section have been seen. */
  done = false;
  /** Why the framing is invalid, or null. */
  error: string | null = null;
  /** Chunk data bytes seen so far (client_max_body_size counts these). */
  dataBytes = 0;
  #state = S_SIZE_START;
  #size = 0;
  #digits = 0;
  #remaining = 0;
  #extBytes = 0;
  #trailerBytes = 0;

  /**
   * Scan `buf` from `start`. Returns how many bytes belong to the message (fewer than available
   * only when the message ended inside `buf`; the rest is the next message), or -1 on invalid
   * framing (see `error`).
   */
  scan(buf: Buffer, start = 0): number {
    const end = buf.length;
    let i = start;
    while (i < end) {
      const state = this.#state;
      if (state === S_DATA) {
        const take = Math.min(this.#remaining, end - i);
        this.#remaining -= take;
        this.dataBytes += take;
        i += take;
        if (this.#remaining === 0) this.#state = S_DATA_CR;
        continue;
      }
      if (state === S_DONE) break;
      const b = buf[i]!;
      i++;
      switch (state) {
        case S_SIZE_START: {
          const h = HEX[b]!;
          if (h < 0) return this.#fail('invalid chunk size');
          this.#size = h;
          this.#digits = 1;
          this.#extBytes = 0;
          this.#state = S_SIZE;
          break;
        }
        case S_SIZE: {
          const h = HEX[b]!;
          if (h >= 0) {
            if (++this.#digits > 16) return this.#fail('chunk size too long');
            this.#size = this.#size * 16 + h;
            if (this.#size > MAX_CHUNK_SIZE) return this.#fail('chunk size too large');
          } else if (b === 13) {
            this.#state = S_SIZE_LF;
          } else if (b === 0x3b) {
            this.#state = S_EXT;
          } else if (b === 0x20 || b === 0x09) {
            this.#state = S_EXT_WS;
          } else {
            return this.#fail('invalid chunk size');
          }
          break;
        }
        case S_EXT_WS:
          // BWS is only allowed before a chunk extension.
          if (b === 0x3b) this.#state = S_EXT;
          else if (b !== 0x20 && b !== 0x09) return this.#fail('invalid chunk size');
          if (++this.#extBytes > MAX_CHUNK_EXT_BYTES) return this.#fail('chunk extension too long');
          break;
        case S_EXT:
          if (b === 13) this.#state = S_SIZE_LF;
          else if (VALUE_CHAR[b] !== 1) return this.#fail('invalid chunk extension');
          else if (++this.#extBytes > MAX_CHUNK_EXT_BYTES) return this.#fail('chunk extension too long');
          break;
        case S_SIZE_LF:
          if (b !== 10) return this.#fail('missing LF after chunk size');
          if (this.#size === 0) {
            this.#state = S_TRAILER_START;
          } else {
            this.#remaining = this.#size;
            this.#state = S_DATA;
          }
          break;
        case S_DATA_CR:
          if (b !== 13) return this.#fail('missing CRLF after chunk data');
          this.#state = S_DATA_LF;
          break;
        case S_DATA_LF:
          if (b !== 10) return this.#fail('missing CRLF after chunk data');
          this.#state = S_SIZE_START;
          break;
        case S_TRAILER_START:
          if (b === 13) this.#state = S_END_LF;
          else if (TCHAR[b] === 1) this.#state = S_TRAILER_NAME;
          else return this.#fail('invalid trailer');
          if (++this.#trailerBytes > MAX_TRAILER_BYTES) return this.#fail('trailers too large');
          break;
        case S_TRAILER_NAME:
          if (b === 0x3a) this.#state = S_TRAILER_VALUE;
          else if (TCHAR[b] !== 1) return this.#fail('invalid trailer');
          if (++this.#trailerBytes > MAX_TRAILER_BYTES) return this.#fail('trailers too large');
          break;
        case S_TRAILER_VALUE:
          if (b === 13) this.#state = S_TRAILER_LF;
          else if (VALUE_CHAR[b] !== 1) return this.#fail('invalid trailer');
          if (++this.#trailerBytes > MAX_TRAILER_BYTES) return this.#fail('trailers too large');
          break;
        case S_TRAILER_LF:
          if (b !== 10) return this.#fail('invalid trailer');
          this.#state = S_TRAILER_START;
          break;
        case S_END_LF:
          if (b !== 10) return this.#fail('invalid end of chunked body');
          this.#state = S_DONE;
          this.done = true;
          return i - start;
      }
    }
    return i - start;
  }

  #fail(reason: string): number {
    this.error = reason;
    return -1;
  }
}

// ---------------------------------------------------------------------------------------------
// decoding

const D_SIZE = 0;
const D_EXT = 1;
const D_DATA = 2;
const D_DATA_END = 3;
const D_TRAILER = 4;
const D_TRAILER_LINE = 5;
const D_DONE = 6;

/**
 * Decodes a chunked body into its data bytes. The bytes it sees were already validated by a
 * ChunkedScanner on their way in, so this only walks the structure: sizes, extensions and
 * trailers are skipped, never judged.
 */
export class ChunkedDecoder {
  #state = D_SIZE;
  #size = 0;
  #remaining = 0;

  get done(): boolean {
    return this.#state === D_DONE;
  }

  /** Calls `out` with each data slice (views of `buf`) found in `buf`. */
  decode(buf: Buffer, out: (data: Buffer) => void): void {
    const end = buf.length;
    let i = 0;
    while (i < end) {
      switch (this.#state) {
        case D_SIZE: {
          const b = buf[i++]!;
          if (b === 0x0a) this.#sizeDone();
          else if (b === 0x3b || b === 0x20 || b === 0x09 || b === 0x0d) this.#state = D_EXT;
          else this.#size = this.#size * 16 + HEX[b]!;
          break;
        }
        case D_EXT: {
          const lf = buf.indexOf(0x0a, i);
          if (lf === -1) return;
          i = lf + 1;
          this.#sizeDone();
          break;
        }
        case D_DATA: {
          const take = Math.min(this.#remaining, end - i);
          out(take === end && i === 0 ? buf : buf.subarray(i, i + take));
          i += take;
          this.#remaining -= take;
          if (this.#remaining === 0) this.#state = D_DATA_END;
          break;
        }
        case D_DATA_END:
          // CRLF after the data.
          if (buf[i++] === 0x0a) this.#state = D_SIZE;
          break;
        case D_TRAILER: {
          // At the start of a trailer line: an empty line (CRLF) ends the message.
          const b = buf[i++]!;
          if (b === 0x0a) this.#state = D_DONE;
          else if (b !== 0x0d) this.#state = D_TRAILER_LINE;
          break;
        }
        case D_TRAILER_LINE: {
          const lf = buf.indexOf(0x0a, i);
          if (lf === -1) return;
          i = lf + 1;
          this.#state = D_TRAILER;
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
    this.#state = this.#remaining === 0 ? D_TRAILER : D_DATA;
  }
}

// ---------------------------------------------------------------------------------------------
// encoding

/** The last chunk with an empty trailer section: the end of a chunked body. */
export const LAST_CHUNK: Buffer = Buffer.from('0\r\n\r\n', 'latin1');

const CRLF: Buffer = Buffer.from('\r\n', 'latin1');
const NO_PARTS: readonly Buffer[] = [];

/**
 * `data` as one chunk: its size line, the data itself (not copied) and CRLF, to be written in
 * order (corked: one writev); no parts for empty data (a 0 chunk ends a body).
 */
export function chunkParts(data: Buffer): readonly Buffer[] {
  if (data.length === 0) return NO_PARTS;
  return [Buffer.from(`${data.length.toString(16)}\r\n`, 'latin1'), data, CRLF];
}
