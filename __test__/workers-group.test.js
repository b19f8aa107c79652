'use strict';

// Listener groups across worker threads: servers in several workers of one
// process listening with `group` share one socket, and rs-net's accept
// thread hands each connection to the member with the fewest open plus
// queued connections (ties in turn), skips a member whose event loop has
// not taken its last batch, gives the queued connections of a member that
// closes or is terminated to the others, and closes the socket when the
// last member leaves. Nothing is lost or left open.
//
// Waits are bounded (generous, never asserted on): a connection nobody
// answers fails the test instead of hanging it.

const net = require('net');
const path = require('path');
const { SHARE_ENV, Worker } = require('worker_threads');

const { client, message, sleep, within } = require('./helpers/workers');
const { openSockets } = require('./helpers/conn-util');

const rsnet = require('..');

const workerScript = path.join(__dirname, 'fixtures', 'group-worker.js');

const BOUND = 20000;

/** Waits (bounded) until `done()`; returns whether it happened. */
async function eventually(done) {
  for (let i = 0; i < 2000; i++) {
    if (done()) return true;
    await sleep(10);
  }
  return done();
}

let groups = 0;
const live = new Set();
afterEach(async () => {
  await Promise.all([...live].map((worker) => worker.terminate()));
  live.clear();
});

/** Starts one worker of `group` (port 0: the group's, or a new one). */
async function startMember(group, id, port = 0, grace = undefined) {
  // The process's own environment (Jest's process.env is a copy), where a
  // first member's grace is set.
  const env = grace === undefined ? undefined : SHARE_ENV;
  const worker = new Worker(workerScript, { env, workerData: { id, port, group, grace } });
  live.add(worker);
  const listening = await within(message(worker, 'listening'), BOUND, `worker ${id} listening`);
  return { worker, port: listening.port };
}

async function startGroup(size, grace = undefined) {
  const group = `workers-group-${process.pid}-${++groups}`;
  const first = await startMember(group, 0, 0, grace);
  const workers = [first.worker];
  for (let id = 1; id < size; id++) {
    const member = await startMember(group, id);
    expect(member.port).toBe(first.port);
    workers.push(member.worker);
  }
  return { group, workers, port: first.port };
}

/** Opens a connection and waits (bounded) for its answer; keeps it open. */
async function hold(port) {
  const c = client(port);
  c.by = await within(c.answered, BOUND, 'an answer');
  return c;
}

async function closeAll(workers) {
  for (const worker of workers) worker.postMessage('close');
  const closed = await within(
    Promise.all(workers.map((worker) => message(worker, 'closed'))),
    BOUND,
    'every worker closed',
  );
  await Promise.all(workers.map((worker) => worker.terminate()));
  for (const worker of workers) live.delete(worker);
  return closed;
}

async function connectionsOf(worker) {
  worker.postMessage('count');
  return (await within(message(worker, 'count'), BOUND, 'a count')).connections;
}

function blockFlag() {
  return new Int32Array(new SharedArrayBuffer(4));
}

function release(flag) {
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
}

test('each connection goes to the member with the fewest open connections: 8 and 16 over 4 workers are 2 and 4 each', async () => {
  const baseline = openSockets();
  const { workers, port } = await startGroup(4);
  const held = [];
  const perWorker = () => workers.map((_, id) => held.filter((c) => c.by === id).length);
  for (let i = 0; i < 8; i++) held.push(await hold(port));
  expect(perWorker()).toEqual([2, 2, 2, 2]);
  for (let i = 0; i < 8; i++) held.push(await hold(port));
  expect(perWorker()).toEqual([4, 4, 4, 4]);

  // Worker 2's clients leave: the next four are worker 2's, the fewest.
  for (const c of held.filter((c) => c.by === 2)) c.socket.destroy();
  for (let i = 0; i < 100 && (await connectionsOf(workers[2])) !== 0; i++) await sleep(10);
  const next = [];
  for (let i = 0; i < 4; i++) next.push(await hold(port));
  expect(next.map((c) => c.by)).toEqual([2, 2, 2, 2]);

  for (const c of [...held, ...next]) c.socket.destroy();
  await closeAll(workers);
  expect(await eventually(() => openSockets() === baseline)).toBe(true);
}, 60000);

test('a member whose event loop stalls gets one connection, which goes to another member after the grace; then nothing until it catches up', async () => {
  const baseline = openSockets();
  const { workers, port } = await startGroup(2);
  const [stalled, serving] = workers;
  // One each, then the stalled one's leaves: it is the least loaded.
  const held = [await hold(port), await hold(port)];
  expect(held.map((c) => c.by).sort()).toEqual([0, 1]);
  for (const c of held.filter((c) => c.by === 0)) c.socket.destroy();
  for (let i = 0; i < 100 && (await connectionsOf(stalled)) !== 0; i++) await sleep(10);

  const flag = blockFlag();
  stalled.postMessage({ do: 'block', flag });
  await within(message(stalled, 'blocked'), BOUND, 'blocked');
  // The first goes to the stalled member (it has taken everything so far)
  // and waits in its queue; once its loop has kept it waiting for the
  // grace, the member that caught up answers it, while the stalled one is
  // still blocked.
  const first = await hold(port);
  expect(first.by).toBe(1);
  // The next ones skip the stalled member although it has fewer
  // connections.
  const next = [];
  for (let i = 0; i < 6; i++) next.push(await hold(port));
  expect(next.map((c) => c.by)).toEqual(Array(6).fill(1));

  release(flag);
  // Once its loop has run again (taking the wake-up it was sent), it is
  // caught up and the least loaded: it is given connections again.
  expect(await connectionsOf(stalled)).toBe(0);
  const after = [];
  for (let i = 0; i < 5 && !after.some((c) => c.by === 0); i++) after.push(await hold(port));
  expect(after.map((c) => c.by)).toContain(0);
  for (const c of [...held, ...next, first, ...after]) c.socket.destroy();
  await closeAll(workers);
  expect(await eventually(() => openSockets() === baseline)).toBe(true);
}, 60000);

test('connections rescued to a member that is blocked too go on, after its grace, to one that is not', async () => {
  const { workers, port } = await startGroup(3);
  const held = [];
  for (let i = 0; i < 3; i++) held.push(await hold(port));
  expect(held.map((c) => c.by).sort()).toEqual([0, 1, 2]);
  // Members 0 and 1 lose theirs (least loaded now) and then block; member
  // 2 keeps one connection and serves.
  for (const c of held.filter((c) => c.by !== 2)) c.socket.destroy();
  for (const worker of workers.slice(0, 2)) {
    for (let i = 0; i < 100 && (await connectionsOf(worker)) !== 0; i++) await sleep(10);
  }
  const flags = [blockFlag(), blockFlag()];
  for (const [index, worker] of workers.slice(0, 2).entries()) {
    worker.postMessage({ do: 'block', flag: flags[index] });
    await within(message(worker, 'blocked'), BOUND, 'blocked');
  }
  // Queued to 0 or 1, rescued to the other (caught up, and less loaded
  // than 2, but blocked as well), and rescued again: member 2 answers.
  const rescued = await hold(port);
  expect(rescued.by).toBe(2);
  flags.forEach(release);
  for (const c of [...held, rescued]) c.socket.destroy();
  await closeAll(workers);
}, 60000);

test.each([
  ['closes its server', 'close'],
  ['is terminated', 'terminate'],
])(
  'a member that %s gives its queued connections to the others',
  async (_, how) => {
    const baseline = openSockets();
    // A grace longer than the test, so that the queued connection stays
    // with the leaving member until it leaves.
    const { workers, port } = await startGroup(2, 600000);
    const [leaving, staying] = workers;
    const held = [];
    for (let i = 0; i < 4; i++) held.push(await hold(port));
    for (const c of held.filter((c) => c.by === 0)) c.socket.destroy();
    for (let i = 0; i < 100 && (await connectionsOf(leaving)) !== 0; i++) await sleep(10);

    leaving.postMessage('count');
    const answeredBefore = (await within(message(leaving, 'count'), BOUND, 'a count')).count;
    const flag = blockFlag();
    leaving.postMessage({ do: 'block', flag, closeAfter: how === 'close' });
    await within(message(leaving, 'blocked'), BOUND, 'blocked');
    const before = openSockets();
    const queued = client(port);
    expect(await eventually(() => openSockets() === before + 2)).toBe(true);
    // Well past the default grace, it still waits with the leaving member.
    const answer = await Promise.race([queued.answered, sleep(100).then(() => 'waiting')]);
    expect(answer).toBe('waiting');

    if (how === 'close') {
      const closed = message(leaving, 'closed');
      release(flag);
      // It closed before its loop took the connection: it answered no more.
      expect((await within(closed, BOUND, 'closed')).count).toBe(answeredBefore);
    } else {
      expect(await leaving.terminate()).toBe(1);
    }
    live.delete(leaving);
    expect(await within(queued.answered, BOUND, 'the queued one answered')).toBe(1);
    // The group goes on with the one left.
    held.push(await hold(port));
    expect(held[held.length - 1].by).toBe(1);

    for (const c of [...held, queued]) c.socket.destroy();
    await closeAll([staying]);
    expect(await eventually(() => openSockets() === baseline)).toBe(true);
  },
  60000,
);

test('the socket closes when the last member leaves; the group can be made again', async () => {
  const baseline = openSockets();
  const { group, workers, port } = await startGroup(3);
  const held = [];
  for (let i = 0; i < 6; i++) held.push(await hold(port));
  expect(held.map((c) => c.by).sort()).toEqual([0, 0, 1, 1, 2, 2]);
  for (const c of held) c.socket.destroy();
  await closeAll(workers.slice(0, 2));
  const last = await hold(port);
  expect(last.by).toBe(2);
  last.socket.destroy();
  await closeAll(workers.slice(2));
  const refused = await new Promise((resolve) => {
    net
      .connect(port, '127.0.0.1')
      .once('error', (error) => resolve(error.code))
      .once('connect', () => resolve('connected'));
  });
  expect(refused).toBe('ECONNREFUSED');
  expect(await eventually(() => openSockets() === baseline)).toBe(true);

  // The same name makes a new group, on the port asked for.
  const again = await startMember(group, 7, port);
  expect(again.port).toBe(port);
  const c = await hold(port);
  expect(c.by).toBe(7);
  c.socket.destroy();
  await closeAll([again.worker]);
  expect(await eventually(() => openSockets() === baseline)).toBe(true);
}, 60000);

test('startWorkers starts Node Workers running a module, each serving the group', async () => {
  const group = `workers-group-${process.pid}-${++groups}`;
  const first = await startMember(group, 0);
  const workers = rsnet.startWorkers(workerScript, { count: 3, workerData: { id: 9, port: 0, group } });
  for (const worker of workers) live.add(worker);
  expect(workers).toHaveLength(3);
  expect(workers.every((worker) => worker instanceof Worker)).toBe(true);
  const ports = await within(
    Promise.all(workers.map((worker) => message(worker, 'listening'))),
    BOUND,
    'every worker listening',
  );
  expect(ports.map((m) => m.port)).toEqual([first.port, first.port, first.port]);
  const answers = [];
  for (let i = 0; i < 8; i++) answers.push(await hold(first.port));
  expect(answers.filter((c) => c.by === 9)).toHaveLength(6);
  for (const c of answers) c.socket.destroy();
  await closeAll([first.worker, ...workers]);
  expect(() => rsnet.startWorkers(workerScript, { count: 0 })).toThrow(
    expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }),
  );
}, 60000);
