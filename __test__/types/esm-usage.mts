// The ES module form: named imports from 'rs-net'.
import { createServer, Server, Socket, isIP } from 'rs-net';

const server: Server = createServer((socket: Socket) => socket.end());
server.listen(0, () => console.log(isIP('::1')));
