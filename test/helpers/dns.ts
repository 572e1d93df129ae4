/**
 * A real DNS server for tests: UDP on 127.0.0.1 port 0, answering A / AAAA queries from a table
 * the test changes while the proxy runs. The codec is the minimum of RFC 1035 a resolver needs:
 * the header, the question echoed back, answers with a TTL (the name as a pointer to the
 * question), NXDOMAIN and SERVFAIL; a name set to 'drop' gets no answer at all (a timeout).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { onTestFinished } from 'vitest';

const TYPE_A = 1;
const TYPE_AAAA = 28;
const CLASS_IN = 1;
const RCODE_SERVFAIL = 2;
const RCODE_NXDOMAIN = 3;

/** What a name answers: its addresses (IPv4 ones as A, IPv6 ones as AAAA) and their TTL. */
export type DnsEntry = { readonly addresses: readonly string[]; readonly ttl?: number } | 'nxdomain' | 'servfail' | 'drop';

export interface DnsServer {
  readonly port: number;
  /** "127.0.0.1:PORT", as a `resolver` directive takes it. */
  readonly address: string;
  /** Names (lower case, no trailing dot) → answers; unknown names are NXDOMAIN. */
  readonly table: Map<string, DnsEntry>;
  /** Questions asked, as "name TYPE" ("backend.test A"). */
  readonly asked: string[];
  close(): Promise<void>;
}

interface Question {
  readonly id: number;
  readonly flags: number;
  readonly name: string;
  readonly type: number;
  /** The question section as received (echoed in the answer). */
  readonly section: Buffer;
}

/** The first question of a query; null when the message is not one this server reads. */
export function parseQuery(msg: Buffer): Question | null {
  if (msg.length < 12 || msg.readUInt16BE(4) < 1) return null;
  const labels: string[] = [];
  let at = 12;
  while (at < msg.length) {
    const len = msg[at]!;
    if (len === 0) break;
    if (len > 63 || at + 1 + len > msg.length) return null;
    labels.push(msg.toString('latin1', at + 1, at + 1 + len));
    at += 1 + len;
  }
  if (at + 5 > msg.length) return null;
  const end = at + 5;
  return {
    id: msg.readUInt16BE(0),
    flags: msg.readUInt16BE(2),
    name: labels.join('.').toLowerCase(),
    type: msg.readUInt16BE(at + 1),
    section: msg.subarray(12, end),
  };
}

function rdataOf(address: string): Buffer {
  if (net.isIPv4(address)) return Buffer.from(address.split('.').map(Number));
  // IPv6: expand "::" into the missing groups of zeros
  const [head, tail] = address.includes('::') ? address.split('::') : [address, undefined];
  const left = head === '' ? [] : head!.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** The answer to `q` from `entry` (undefined: NXDOMAIN). */
export function answerFor(q: Question, entry: DnsEntry | undefined): Buffer {
  let rcode = 0;
  const answers: Buffer[] = [];
  if (entry === undefined || entry === 'nxdomain') rcode = RCODE_NXDOMAIN;
  else if (entry === 'servfail') rcode = RCODE_SERVFAIL;
  else if (entry !== 'drop') {
    for (const address of entry.addresses) {
      const type = net.isIPv4(address) ? TYPE_A : TYPE_AAAA;
      if (type !== q.type) continue;
      const rdata = rdataOf(address);
      const rr = Buffer.alloc(12);
      rr.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
      rr.writeUInt16BE(type, 2);
      rr.writeUInt16BE(CLASS_IN, 4);
      rr.writeUInt32BE(entry.ttl ?? 1, 6);
      rr.writeUInt16BE(rdata.length, 10);
      answers.push(rr, rdata);
    }
  }
  const header = Buffer.alloc(12);
  header.writeUInt16BE(q.id, 0);
  // QR, the query's opcode and RD, AA, RA, the rcode
  header.writeUInt16BE(0x8000 | (q.flags & 0x7900) | 0x0400 | 0x0080 | rcode, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length / 2, 6);
  return Buffer.concat([header, q.section, ...answers]);
}

/** Start a DNS server; it is closed when the test ends. */
export async function startDnsServer(table: Record<string, DnsEntry> = {}): Promise<DnsServer> {
  const socket = dgram.createSocket('udp4');
  socket.on('error', () => {});
  let closed = false;
  const server: DnsServer = {
    port: 0,
    address: '',
    table: new Map(Object.entries(table)),
    asked: [],
    close: () => new Promise<void>((resolve) => {
      if (closed) return resolve();
      closed = true;
      socket.close(() => resolve());
    }),
  };
  socket.on('message', (msg, from) => {
    const q = parseQuery(msg);
    if (q === null) return;
    server.asked.push(`${q.name} ${q.type === TYPE_A ? 'A' : q.type === TYPE_AAAA ? 'AAAA' : q.type}`);
    const entry = server.table.get(q.name);
    if (entry === 'drop') return;
    socket.send(answerFor(q, entry), from.port, from.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const port = socket.address().port;
  Object.assign(server, { port, address: `127.0.0.1:${port}` });
  onTestFinished(() => server.close());
  return server;
}
