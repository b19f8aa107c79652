'use strict';

const { expectParity, turns, closeServer } = require('./helpers/parity');

test('listen(0) is synchronous and emits listening on next tick', async () => {
  await expectParity(async (net, observe) => {
    const server = net.createServer();
    server.on('listening', () => observe('listening', server.address()));
    server.listen(0);
    observe('returned', { listening: server.listening, address: server.address() });
    process.nextTick(() => observe('tick'));
    await turns();
    await closeServer(server);
    observe('closed', server.address());
  });
});

test('bad port throws RangeError', async () => {
  await expectParity(async (net, observe) => {
    for (const port of [
      65536,
      -1,
      1.5,
      NaN,
      ' ',
      '',
      'abc',
      true,
      null,
      undefined,
      {},
      [],
      Symbol('s'),
      10n,
    ]) {
      const server = net.createServer();
      try {
        server.listen({ port });
        observe('listening at return', server.listening);
        await turns(1);
        await closeServer(server);
      } catch (error) {
        observe.error('threw', error);
      }
    }
  });
});
