'use strict';

// What the worker-thread tests share: bounded waits for a worker's
// messages, clients that report which worker answered, and waits for the
// process's socket count.

const net = require('net');

const { openSockets } = require('./conn-util');

/** Resolves with `promise`, or rejects saying `what` did not happen. */
function within(promise, ms, what) {
  let timer;
  const bound = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms);
  });
  return Promise.race([promise, bound]).finally(() => clearTimeout(timer));
}

/** The next message from `worker` whose `event` is `event`. */
function message(worker, event) {
  return new Promise((resolve, reject) => {
    const onMessage = (m) => {
      if (m.event === event) {
        worker.off('message', onMessage);
        worker.off('error', reject);
        resolve(m);
      }
    };
    worker.on('message', onMessage);
    worker.once('error', reject);
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits (bounded) until the socket count is back at `baseline`; returns how far off it is. */
async function socketsBackTo(baseline) {
  for (let i = 0; i < 1000 && openSockets() !== baseline; i++) await sleep(10);
  return openSockets() - baseline;
}

/**
 * A client: `answered` resolves with the id of the worker that took the
 * connection (the first line it sends; null if it closed unanswered),
 * `closed` when it is gone.
 */
function client(port) {
  const socket = net.connect(port, '127.0.0.1');
  socket.setEncoding('utf8');
  socket.on('error', () => {});
  let text = '';
  const answered = new Promise((resolve) => {
    socket.on('data', (chunk) => {
      text += chunk;
      if (text.includes('\n')) resolve(Number(text.slice(0, text.indexOf('\n'))));
    });
    socket.once('close', () => resolve(null));
  });
  const closed = new Promise((resolve) => socket.once('close', resolve));
  return { socket, answered, closed };
}

module.exports = { client, message, sleep, socketsBackTo, within };
