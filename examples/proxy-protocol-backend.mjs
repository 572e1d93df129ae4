// A TCP backend behind tsproxy (`proxy_protocol on;`) that learns the real client address
// from the PROXY protocol v1 line tsproxy sends before any client byte.
import net from 'node:net';

export function createBackend(onClient) {
  return net.createServer((socket) => {
    socket.on('error', () => socket.destroy());
    let head = Buffer.alloc(0);
    socket.on('data', function readHeader(chunk) {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n');
      if (end < 0) return head.length > 107 ? socket.destroy() : undefined; // v1 lines are <= 107 bytes
      socket.off('data', readHeader);
      // "PROXY TCP4 <client ip> <proxy ip> <client port> <proxy port>"
      const [magic, , clientIp, , clientPort] = head.subarray(0, end).toString('latin1').split(' ');
      if (magic !== 'PROXY') return socket.destroy();
      const rest = head.subarray(end + 2);
      onClient(socket, { address: clientIp, port: Number(clientPort) });
      if (rest.length > 0) socket.emit('data', rest); // bytes the client sent after the header
    });
  });
}

// Run directly: greet every client with its real address.
if (import.meta.url === `file://${process.argv[1]}`) {
  createBackend((socket, client) => socket.end(`hello ${client.address}:${client.port}\n`)).listen(9001, '127.0.0.1');
}
