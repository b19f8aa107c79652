// Misuse that must not type-check against rs-net (each line is an error).
import { createServer } from 'rs-net';

const server = createServer({ allowHalfOpen: 'yes' });
server.maxConnections = 'many';
const port: number = server.address();
server.close(5);
