'use strict';

// A reusePort group of many worker threads, each listening on the same port
// with rs-net, as a thread pool starts them: every connection, sequential or
// concurrent, is answered by one of them, whatever the number of listeners
// and however they were started; terminating some while they hold live
// connections and have more queued leaves the others serving, and nothing
// of the terminated ones open in the process. Child processes sharing a
// port the same way answer every connection too.
//
// Waits are bounded (generous, never asserted on): a connection nobody
// answers fails the test instead of hanging it.

const path = require('path');
const { fork } = require('child_process');
const { Worker } = require('worker_threads');

const { client, message, socketsBackTo, within } = require('./helpers/workers');
const { openSockets } = require('./helpers/conn-util');

const workerScript = path.join(__dirname, 'fixtures', 'reuseport-worker.js');
const childScript = path.join(__dirname, 'fixtures', 'reuseport-child.js');

// Bounds on waits, not expectations of speed: a connection that is answered
// at all is answered within milliseconds.
const ANSWER_BOUND = 10000;
const SETTLE_BOUND = 20000;

/**
 * Starts `size` workers listening on one port: the first binds port 0 and
 * the others take its port, all at once (as a pool starts them) or one
 * after the other.
 */
async function startGroup(size, together) {
  const workers = [new Worker(workerScript, { workerData: { id: 0, port: 0 } })];
  const { port } = await within(message(workers[0], 'listening'), SETTLE_BOUND, 'first worker listening');
  const start = (id) => {
    const worker = new Worker(workerScript, { workerData: { id, port } });
    workers.push(worker);
    return within(message(worker, 'listening'), SETTLE_BOUND, `worker ${id} listening`);
  };
  if (together) {
    const listening = [];
    for (let id = 1; id < size; id++) listening.push(start(id));
    for (const m of await Promise.all(listening)) expect(m.port).toBe(port);
  } else {
    for (let id = 1; id < size; id++) expect((await start(id)).port).toBe(port);
  }
  return { workers, port };
}

/** Connects, waits (bounded) for the answer, ends; resolves with the id. */
async function ask(port) {
  const c = client(port);
  try {
    return await within(c.answered, ANSWER_BOUND, 'an answer');
  } finally {
    c.socket.destroy();
  }
}

/** Asks `count` times one after the other, then `count * 5` at once. */
async function askAll(port, count) {
  const answers = [];
  for (let i = 0; i < count; i++) answers.push(await ask(port));
  answers.push(...(await Promise.all(Array.from({ length: count * 5 }, () => ask(port)))));
  return answers;
}

// Workers still running; whatever a failed test left is terminated.
const live = new Set();
afterEach(async () => {
  await Promise.all([...live].map((worker) => worker.terminate()));
  live.clear();
});

test.each([
  [2, 'together'],
  [8, 'together'],
  [8, 'one after the other'],
  [16, 'together'],
])(
  '%i workers started %s answer every connection, sequential and concurrent',
  async (size, start) => {
    const baseline = openSockets();
    for (let round = 0; round < 3; round++) {
      const { workers, port } = await startGroup(size, start === 'together');
      for (const worker of workers) live.add(worker);
      const exits = workers.map((worker) => new Promise((resolve) => worker.once('exit', resolve)));

      const answers = await askAll(port, 30);
      const perWorker = workers.map((_, id) => answers.filter((answer) => answer === id).length);
      expect(answers.filter((answer) => typeof answer !== 'number')).toEqual([]);
      expect(perWorker.reduce((a, b) => a + b, 0)).toBe(answers.length);

      // Each counted exactly the connections it answered, then ends by itself.
      for (const worker of workers) worker.postMessage('close');
      const closed = await within(
        Promise.all(workers.map((worker) => message(worker, 'closed'))),
        SETTLE_BOUND,
        'every worker closed',
      );
      expect(closed.map((m) => m.count)).toEqual(perWorker);
      expect(await within(Promise.all(exits), SETTLE_BOUND, 'every worker exited')).toEqual(
        Array(size).fill(0),
      );
      for (const worker of workers) live.delete(worker);
    }
    expect(await socketsBackTo(baseline)).toBe(0);
  },
  120000,
);

test('terminating workers with live and queued connections leaves the others serving and nothing open', async () => {
  const SIZE = 8;
  const VICTIMS = 4;
  const baseline = openSockets();
  const { workers, port } = await startGroup(SIZE, true);
  for (const worker of workers) live.add(worker);
  const isVictim = (id) => id < VICTIMS;

  // Live connections, spread over every worker.
  const held = Array.from({ length: 64 }, () => client(port));
  const heldBy = await within(Promise.all(held.map((c) => c.answered)), SETTLE_BOUND, 'held answered');
  expect(heldBy.filter((id) => typeof id !== 'number')).toEqual([]);
  expect(heldBy.some(isVictim)).toBe(true);

  // The victims stop running JavaScript; connections that reach them now
  // are accepted natively and wait in their queues.
  const victims = workers.slice(0, VICTIMS);
  for (const worker of victims) worker.postMessage('block');
  await within(
    Promise.all(victims.map((worker) => message(worker, 'blocked'))),
    SETTLE_BOUND,
    'victims blocked',
  );
  const queued = Array.from({ length: 64 }, () => client(port));
  await within(
    Promise.all(
      queued.map((c) => new Promise((resolve) => c.socket.once('connect', resolve).once('close', resolve))),
    ),
    SETTLE_BOUND,
    'queued connected',
  );

  expect(await Promise.all(victims.map((worker) => worker.terminate()))).toEqual(Array(VICTIMS).fill(1));
  for (const worker of victims) live.delete(worker);

  // Every client settles: answered by a survivor, or closed.
  const queuedBy = await within(Promise.all(queued.map((c) => c.answered)), SETTLE_BOUND, 'queued settled');
  const heldClosed = await within(
    Promise.all(held.map((c, i) => (isVictim(heldBy[i]) ? c.closed.then(() => 'closed') : 'open'))),
    SETTLE_BOUND,
    'victims’ live connections closed',
  );
  expect(heldClosed.filter((state, i) => (state === 'closed') !== isVictim(heldBy[i]))).toEqual([]);
  expect(held.filter((c, i) => !isVictim(heldBy[i]) && c.socket.destroyed)).toEqual([]);
  // Nobody answered for a victim once it was blocked; the ones queued there
  // were closed with it.
  expect(queuedBy.filter((id) => id !== null && isVictim(id))).toEqual([]);
  expect(queuedBy.filter((id) => id === null).length).toBeGreaterThan(0);
  const unanswered = queued.filter((_, i) => queuedBy[i] === null);
  await within(Promise.all(unanswered.map((c) => c.closed)), SETTLE_BOUND, 'queued closed');

  // The survivors answer everything, sequential and concurrent.
  const answers = await askAll(port, 30);
  expect(answers.filter((id) => typeof id !== 'number' || isVictim(id))).toEqual([]);

  for (const c of [...held, ...queued]) c.socket.destroy();
  const survivors = workers.slice(VICTIMS);
  for (const worker of survivors) worker.postMessage('close');
  await within(
    Promise.all(survivors.map((worker) => message(worker, 'closed'))),
    SETTLE_BOUND,
    'survivors closed',
  );
  await Promise.all(survivors.map((worker) => worker.terminate()));
  for (const worker of survivors) live.delete(worker);
  // None of the victims' listeners, connections or queued descriptors stay.
  expect(await socketsBackTo(baseline)).toBe(0);
}, 120000);

test('child processes share a port with reusePort and answer every connection', async () => {
  const SIZE = 4;
  const children = [];
  const nextMessage = (child) =>
    within(new Promise((resolve) => child.once('message', resolve)), SETTLE_BOUND, 'a message from a child');
  try {
    children.push(fork(childScript, ['0', '0'], { stdio: 'inherit' }));
    const { port } = await nextMessage(children[0]);
    for (let id = 1; id < SIZE; id++)
      children.push(fork(childScript, [String(id), String(port)], { stdio: 'inherit' }));
    for (const m of await Promise.all(children.slice(1).map(nextMessage))) expect(m.port).toBe(port);
    const exits = children.map((child) => new Promise((resolve) => child.once('exit', resolve)));

    const answers = await askAll(port, 30);
    expect(answers.filter((answer) => typeof answer !== 'number')).toEqual([]);
    const perChild = children.map((_, id) => answers.filter((answer) => answer === id).length);

    for (const child of children) child.send('close');
    const closed = await Promise.all(children.map(nextMessage));
    expect(closed.map((m) => m.count)).toEqual(perChild);
    expect(await within(Promise.all(exits), SETTLE_BOUND, 'every child exited')).toEqual(Array(SIZE).fill(0));
  } finally {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill();
  }
}, 120000);
