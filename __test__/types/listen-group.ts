// Listener groups and startWorkers type-check as documented.
import { createServer, startWorkers, type ListenOptions } from 'rs-net';
import type { Worker } from 'node:worker_threads';

const options: ListenOptions = { port: 0, host: '127.0.0.1', group: 'web' };
createServer().listen(options, () => {});
createServer().listen({ path: '/tmp/x.sock', group: 'ipc' });
const workers: Worker[] = startWorkers(__filename, { count: 2, workerData: { group: 'web' } });
void workers;
