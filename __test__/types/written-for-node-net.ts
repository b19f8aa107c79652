// Code written against Node's net.Server, compiled against rs-net: only the
// import changes. Type-checked by __test__/types.test.js (never run).
import * as net from 'node:net';
import { createServer, Server } from 'rs-net';
import rsnet = require('rs-net');

// A helper typed with Node's own types accepts rs-net's server.
function listenOn(server: net.Server, options: net.ListenOptions): Promise<net.AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options, () => resolve(server.address() as net.AddressInfo));
  });
}

const server: Server = createServer(
  { allowHalfOpen: true, pauseOnConnect: false, noDelay: true },
  (socket) => {
    const s: net.Socket = socket;
    s.setEncoding('utf8');
    s.on('data', (chunk) => s.write(chunk));
  },
);

server.on('listening', () => undefined);
server.on('error', (err: Error) => console.error(err.message));
server.on('drop', (data?: net.DropArgument) => console.log(data?.remoteAddress));
server.once('close', () => undefined);
server.maxConnections = 100;

server.listen();
server.listen(3000);
server.listen(3000, '127.0.0.1');
server.listen(3000, '127.0.0.1', 511, () => undefined);
server.listen(3000, 511, () => undefined);
server.listen('/tmp/rs-net.sock', 10, () => undefined);
server.listen({ port: 0, host: '::1', ipv6Only: true, backlog: 5, exclusive: false });
server.listen({
  path: '/tmp/x.sock',
  readableAll: true,
  writableAll: true,
  signal: new AbortController().signal,
});
server.listen({ fd: 3 });
server.listen(new rsnet.Server());

void listenOn(server, { port: 0 }).then((address) => console.log(address.port, address.family));
server.getConnections((err: Error | null, count: number) => console.log(err, count));
const address: net.AddressInfo | string | null = server.address();
const listening: boolean = server.listening;
server.ref().unref();
server.close((err?: Error) => console.log(err, address, listening));

// The two modules' servers are interchangeable for the type checker.
const fromNode: Server = net.createServer();
const toNode: net.Server = new Server();
const viaNamespace: net.Server = rsnet.createServer();
void [fromNode, toNode, viaNamespace];

// Everything else is Node's own net.
const socket: net.Socket = rsnet.connect({ port: 3000 });
const family: number = rsnet.isIP('127.0.0.1');
const list: net.BlockList = new rsnet.BlockList();
void [socket, family, list, rsnet.isIPv4, rsnet.isIPv6, rsnet.Socket, rsnet.createConnection];

async function disposable(): Promise<void> {
  await using scoped = createServer().listen(0);
  void scoped;
}
void disposable;
