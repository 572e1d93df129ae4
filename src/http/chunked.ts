/**
 * A chunked transfer-coding scanner (RFC 9112 §7.1). It walks the bytes without decoding them:
 * the proxy forwards chunked bodies byte for byte, and the scanner only says where the message
 * ends and whether the framing is valid. Strict where leniency breeds smuggling: hex sizes only
 * (no sign, "0x" or inner spaces), at most 16 digits and never above 2^53, CRLF after each data
 * block, bounded chunk extensions and trailers, no obs-fold in trailers.
 */
import { MAX_CHUNK_EXT_BYTES, MAX_CHUNK_SIZE, MAX_TRAILER_BYTES } from '../constants.js';

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

const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

/** Visible chars, SP, HTAB and obs-text: what an extension or trailer value may hold. */
function textByte(b: number): boolean {
  return b === 0x09 || (b >= 0x20 && b !== 0x7f);
}

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
          else if (!textByte(b)) return this.#fail('invalid chunk extension');
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
          else if (!textByte(b)) return this.#fail('invalid trailer');
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
