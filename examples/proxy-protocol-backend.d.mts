import type net from 'node:net';
export function createBackend(onClient: (socket: net.Socket, client: { address: string; port: number }) => void): net.Server;
