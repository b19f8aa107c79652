'use strict';

// What 'connection' listeners do, around several connections that arrive at
// once: process.nextTick callbacks and microtasks they schedule run before
// the next connection, an exception goes to 'uncaughtException' and the
// next connections still come, and with captureRejections a rejected async
// listener destroys its socket. Run in child processes, on both modules.

const path = require('path');
const { runNode } = require('./helpers/conn-util');

const script = path.join(__dirname, 'fixtures', 'conn-throw.js');

async function both(mode) {
  const node = await runNode([script, 'net', mode]);
  const rs = await runNode([script, 'rs', mode]);
  for (const run of [node, rs])
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
  return { node: node.stdout.split('\n'), rs: rs.stdout.split('\n') };
}

test('ticks and microtasks scheduled by a listener run before the next connection', async () => {
  const { node, rs } = await both('tick');
  expect(rs).toEqual(node);
  expect(node.slice(0, 6)).toEqual([
    'connection 1',
    'tick 1',
    'microtask 1',
    'connection 2',
    'tick 2',
    'microtask 2',
  ]);
});

test('a listener that throws: uncaughtException, then the next connections', async () => {
  const { node, rs } = await both('throw');
  expect(rs).toEqual(node);
  expect(node.slice(0, 4)).toEqual(['connection 1', 'uncaught boom 1', 'connection 2', 'uncaught boom 2']);
});

test('a nextTick callback that throws between connections: uncaughtException, then the next', async () => {
  const { node, rs } = await both('tick-throw');
  expect(rs).toEqual(node);
  expect(node.slice(0, 6)).toEqual([
    'connection 1',
    'uncaught tick 1',
    'connection 2',
    'uncaught tick 2',
    'connection 3',
    'uncaught tick 3',
  ]);
});

// Node's libuv takes one connection per turn of the event loop, so the
// close callback of a socket destroyed for connection 1 runs before
// connection 2; rs-net delivers a batch in one turn (running ticks and
// microtasks between connections, but not other phases of the loop), so
// those 'close' events come after the batch. That is the one difference.
test('captureRejections: a rejected async listener destroys its socket', async () => {
  const { node, rs } = await both('reject');
  const withoutClose = (lines) => lines.filter((line) => !line.startsWith('server socket close'));
  expect(withoutClose(rs)).toEqual(withoutClose(node));
  expect(withoutClose(node).slice(0, 4)).toEqual([
    'connection 1',
    'socket error rejected 1',
    'connection 2',
    'socket error rejected 2',
  ]);
  const closes = (lines) => lines.filter((line) => line === 'server socket close true').length;
  expect(closes(rs)).toBe(3);
  expect(closes(node)).toBe(3);
});
