'use strict';

// What becomes of connections rs-net accepted but JavaScript never took,
// and of a second copy of rs-net on one thread (each in a child process).

const { spawnSync } = require('child_process');
const path = require('path');

const fixtures = path.join(__dirname, 'fixtures');

function run(fixture, ...args) {
  const result = spawnSync(process.execPath, [path.join(fixtures, fixture), ...args], {
    encoding: 'utf8',
    timeout: 30000,
  });
  return { status: result.status, stdout: result.stdout.trim() };
}

test("connections not yet taken when the server closes are reset, as Node's are", () => {
  const node = run('close-queued.js', 'net');
  expect(JSON.parse(node.stdout)).toEqual(Array(5).fill('ECONNRESET'));
  expect(run('close-queued.js', path.join(__dirname, '..'))).toEqual(node);
});

test('a second copy of rs-net on one thread: both serve, and the process exits by itself', () => {
  expect(run('second-copy.js')).toEqual({
    status: 0,
    stdout: JSON.stringify({ copies: true, answers: ['first', 'second'] }),
  });
});
