'use strict';

// Async context around accepted connections, as Node has it: 'connection'
// runs in the context listen() was called in (AsyncLocalStorage stores
// included), while a socket's own I/O callbacks start from the top level.

const { AsyncLocalStorage } = require('async_hooks');
const { expectParity, closeServer } = require('./helpers/parity');
const { tempDir } = require('./helpers/conn-util');
const path = require('path');

let temp;
beforeAll(() => {
  temp = tempDir();
});
afterAll(() => temp.cleanup());

describe.each(['tcp', 'unix', 'tcp with a host lookup'])('over %s', (transport) => {
  test('AsyncLocalStorage stores seen by connection listeners and socket callbacks', async () => {
    let run = 0;
    await expectParity(async (net, observe) => {
      const als = new AsyncLocalStorage();
      const server = await new Promise((resolve) => {
        als.run({ at: 'listen' }, () => {
          const created = net.createServer((socket) => {
            observe('connection', als.getStore());
            setImmediate(() => observe('immediate from connection', als.getStore()));
            socket.on('data', () => {
              observe('data', als.getStore());
              socket.end();
            });
            socket.on('end', () => observe('end', als.getStore()));
            socket.on('close', () => observe('close', als.getStore()));
          });
          const ready = () => resolve(created);
          if (transport === 'unix') created.listen(path.join(temp.dir, `ctx${run++}.sock`), ready);
          else if (transport === 'tcp') created.listen(0, '127.0.0.1', ready);
          else created.listen(0, 'localhost', ready);
        });
      });
      const closed = new Promise((resolve) =>
        server.once('connection', (socket) => socket.on('close', resolve)),
      );
      await als.run({ at: 'client' }, async () => {
        const address = server.address();
        const target =
          typeof address === 'string' ? { path: address } : { port: address.port, host: address.address };
        const client = require('net').connect(target, () => client.write('x'));
        client.resume();
        await closed;
      });
      await closeServer(server);
    });
  });
});
