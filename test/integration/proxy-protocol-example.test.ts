import { expect, test, onTestFinished } from 'vitest';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { startProxy } from '../helpers/proxy.js';
import { ROOT } from '../helpers/cli.js';
// The README shows this file; the test proves what it shows.
import { createBackend } from '../../examples/proxy-protocol-backend.mjs';

test('the README example backend reads the real client address from the PROXY header', async () => {
  const example = fs.readFileSync(path.join(ROOT, 'examples/proxy-protocol-backend.mjs'), 'utf8');
  expect(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')).toContain(example.trim());

  const backend = createBackend((socket: net.Socket, client: { address: string; port: number }) => {
    socket.on('data', (d: Buffer) => socket.end(`${client.address}:${client.port} said ${d.toString()}`));
  });
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  onTestFinished(() => void backend.close());
  const port = (backend.address() as net.AddressInfo).port;

  const proxy = await startProxy(`
    stream {
      server {
        listen 127.0.0.1:0;
        proxy_pass 127.0.0.1:${port};
        proxy_protocol on;
      }
    }`);

  const client = net.connect(proxy.port(), '127.0.0.1');
  client.on('error', () => undefined);
  await new Promise((r) => client.once('connect', r));
  const localPort = client.localPort;
  client.write('hi');
  let reply = '';
  client.on('data', (d) => (reply += d.toString()));
  await new Promise((r) => client.once('close', r));
  expect(reply).toBe(`127.0.0.1:${localPort} said hi`);
});
