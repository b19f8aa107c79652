'use strict';

// Clients in another process, and a long churn of connections that must
// leave no descriptor and no handle behind.

const path = require('path');
const { closeServer, rsNet } = require('./helpers/parity');
const { listenOn, runNode, tempDir, waitFor } = require('./helpers/conn-util');

const clientsScript = path.join(__dirname, 'fixtures', 'conn-clients.js');
const churnScript = path.join(__dirname, 'fixtures', 'conn-churn.js');

let temp;
beforeAll(() => {
  temp = tempDir();
});
afterAll(() => temp.cleanup());

describe.each(['tcp', 'unix'])('clients in another process over %s', (transport) => {
  test('200 concurrent clients are echoed', async () => {
    const server = rsNet.createServer((socket) => socket.pipe(socket));
    const serverErrors = [];
    server.on('error', (error) => serverErrors.push(error));
    const target = await listenOn(server, transport, temp.dir);
    try {
      const { code, stdout, stderr } = await runNode([
        clientsScript,
        String(target.port ?? target.path),
        '200',
      ]);
      expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
      expect(JSON.parse(stdout)).toEqual({ connected: 200, echoed: 200, errors: [] });
      await waitFor(() => server._connections === 0, { what: 'every connection to close' });
    } finally {
      await closeServer(server);
    }
    expect(serverErrors).toEqual([]);
  });
});

// Run in a child process: /proc/self/fd and the active handles of a Jest
// worker also move with whatever other suites it ran before (children,
// pipes), so a count there could not be exact.
test.each([
  ['tcp', 10000],
  ['unix', 2000],
])(
  '%s: %i connections opened and closed leave no descriptor and no handle',
  async (transport, total) => {
    const args = [churnScript, String(total), '100'];
    if (transport === 'unix') args.push(path.join(temp.dir, 'churn.sock'));
    const { code, stdout, stderr } = await runNode(args, { limit: 110000 });
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const report = JSON.parse(stdout);
    expect(report).toMatchObject({
      accepted: total,
      closed: total,
      wrong: 0,
      connectionsAtEnd: 0,
      serverErrors: [],
    });
    expect(report.after).toEqual(report.before);
  },
  120000,
);
