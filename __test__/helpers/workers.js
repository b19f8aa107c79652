'use strict';

// What the worker-thread tests share: bounded waits for a worker's
// messages, and the count of socket descriptors in this process.

const fs = require('fs');

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

/** Socket descriptors open in this process (worker threads' included). */
function socketDescriptors() {
  let count = 0;
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      if (fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith('socket:')) count++;
    } catch {
      // Closed while listing.
    }
  }
  return count;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits (bounded) until the socket count is back at `baseline`; returns how far off it is. */
async function socketsBackTo(baseline) {
  for (let i = 0; i < 1000 && socketDescriptors() !== baseline; i++) await sleep(10);
  return socketDescriptors() - baseline;
}

module.exports = { message, sleep, socketDescriptors, socketsBackTo, within };
