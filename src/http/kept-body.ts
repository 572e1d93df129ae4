/**
 * The copy of a request body kept for $request_body and $request_body_file, made only for
 * locations whose plan asks for it (plan.ts `KeepBodyPlan`: a template of the location reads one of
 * them, or client_body_in_file_only is set); every other request pays one null check per chunk.
 * The body itself still streams to the upstream (proxy-request-body.ts); this sees the same bytes.
 *
 * nginx's rules (1.22, checked with ask-nginx on bodies sent after the head): a Content-Length body
 * stays in memory when it is shorter than client_body_buffer_size + 1/4 (nginx sizes its buffer
 * that way), a chunked one while its framed bytes fit client_body_buffer_size; a larger body goes
 * to a temp file ($request_body empty, $request_body_file its name, removed after the request).
 * client_body_in_file_only on|clean writes every body to a file (`on` keeps it). The copy is the
 * body's data (chunk framing removed).
 */
import type { Logger } from 'pino';
import { ChunkedDecoder } from '../wire/chunked.js';
import { BodyFile, lengthFitsBuffer } from './body-file.js';
import { BODY_CHUNKED, BODY_LENGTH, type BodyFraming } from './request.js';

/** What a location keeps of request bodies; built once per location plan. */
export interface KeepBodyPlan {
  readonly bufferSizeBytes: number;
  /** Every body goes to a file (client_body_in_file_only on | clean). */
  readonly fileOnly: boolean;
  /** A body too large for memory is written to a file ($request_body_file is read). */
  readonly fileOnOverflow: boolean;
  /** The file outlives the request (client_body_in_file_only on). */
  readonly keepFile: boolean;
  readonly tempPath: string;
  readonly tempLevels: readonly number[];
}

export class KeptBody {
  readonly #plan: KeepBodyPlan;
  readonly #logger: Logger;
  /** The body's data while it is in memory; null once it went to a file or was dropped. */
  #parts: Buffer[] | null = [];
  #memoryBytes = 0;
  /** Bytes as they arrive (framing included): a chunked body stays in memory while they fit. */
  #rawBytes = 0;
  readonly #chunked: boolean;
  readonly #decoder: ChunkedDecoder | null;
  readonly #take: (data: Buffer) => void;
  #complete = false;
  #text: string | null = null;
  #file: BodyFile | null = null;

  constructor(plan: KeepBodyPlan, framing: BodyFraming, contentLength: number, logger: Logger) {
    this.#plan = plan;
    this.#logger = logger;
    this.#chunked = framing !== BODY_LENGTH;
    this.#decoder = framing === BODY_CHUNKED ? new ChunkedDecoder() : null;
    this.#take = (data) => this.#data(data);
    const inMemory = framing !== BODY_LENGTH || lengthFitsBuffer(framing, contentLength, plan.bufferSizeBytes);
    if (plan.fileOnly || !inMemory) this.#overflow();
  }

  /** Body bytes as the client sent them (framed as the request said). */
  add(raw: Buffer): void {
    this.#rawBytes += raw.length;
    if (this.#chunked && this.#parts !== null && this.#rawBytes > this.#plan.bufferSizeBytes) this.#overflow();
    if (this.#parts === null && this.#file === null) return;
    if (this.#decoder !== null) this.#decoder.decode(raw, this.#take);
    else this.#data(raw);
  }

  /** The whole body arrived. */
  end(): void {
    this.#complete = true;
  }

  /** $request_body: the body when it was kept in memory and is complete, else ''. */
  get text(): string {
    if (!this.#complete || this.#parts === null) return '';
    return (this.#text ??= Buffer.concat(this.#parts, this.#memoryBytes).toString('utf8'));
  }

  /** $request_body_file: the body file's name, '' when the body is in memory. */
  get fileName(): string {
    return this.#file?.name ?? '';
  }

  /** The request is over (logged): the file is closed, and removed unless client_body_in_file_only on. */
  release(): void {
    this.#parts = null;
    this.#file?.release();
  }

  #data(data: Buffer): void {
    if (this.#parts !== null) {
      this.#parts.push(data);
      this.#memoryBytes += data.length;
    } else {
      this.#file?.write(data);
    }
  }

  /** The body does not stay in memory: to a file when the plan reads it there, else dropped. */
  #overflow(): void {
    const parts = this.#parts;
    this.#parts = null;
    if (!this.#plan.fileOnly && !this.#plan.fileOnOverflow) return;
    const file = (this.#file = new BodyFile(this.#plan, this.#logger));
    for (const p of parts ?? []) file.write(p);
  }
}
