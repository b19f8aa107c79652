'use strict';

// Async context around accepted connections, as Node has it: 'connection'
// runs in the context listen() was called in (AsyncLocalStorage stores
// included), while a socket's own I/O callbacks start from the top level.

const { AsyncLocalStorage, createHook } = require('async_hooks');
const fs = require('fs');
const { expectParity, closeServer, rsNet } = require('./helpers/parity');
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

// An async hook may run while rs-net makes a connection's handle (`init`
// of its TCPWRAP) and close the server there. Closing resets the
// connections the server holds that no socket has opened, this one among
// them (Node, whose connection was accepted by then, would still emit
// 'connection'); the handle must then not open the number, which may be
// someone else's by now: here, a file the hook opened.
test('a server closed by an async hook while a connection handle is made does not open its descriptor', async () => {
  let connections = 0;
  const server = rsNet.createServer(() => connections++);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  let armed = false;
  const opened = [];
  const hook = createHook({
    init(asyncId, type) {
      if (!armed || type !== 'TCPWRAP') return;
      armed = false;
      server.close();
      // Enough numbers to take the one closing freed, whatever it was.
      for (let i = 0; i < 64; i++) opened.push(fs.openSync('/dev/null', 'r'));
    },
  });
  hook.enable();
  try {
    const client = require('net').connect(server.address().port, '127.0.0.1');
    // The client's own handle is made by now: the next TCPWRAP is the
    // server's handle for this connection.
    armed = true;
    const ended = await new Promise((resolve) => {
      client.on('error', (error) => resolve(error.code));
      client.on('close', () => resolve('closed'));
      client.resume();
    });
    expect(armed).toBe(false);
    expect(ended).toBe('ECONNRESET');
    expect(connections).toBe(0);
    await new Promise((resolve) => setImmediate(resolve));
    for (const fd of opened) expect(fs.fstatSync(fd).isCharacterDevice()).toBe(true);
  } finally {
    hook.disable();
    for (const fd of opened) fs.closeSync(fd);
    await closeServer(server);
  }
});
