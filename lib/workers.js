'use strict';

// startWorkers(filename, options): starts worker threads running one module,
// as cluster.fork() starts processes running one, so that each can serve a
// listener group (`server.listen({ port, group })`). The workers are Node's
// own Worker objects; every option but `count` is Worker's.

const os = require('os');
const { Worker } = require('worker_threads');

const errors = require('./errors');

/**
 * Starts `options.count` (default: os.availableParallelism()) worker threads
 * running `filename`, each with the rest of `options` as Worker's options.
 * Returns them in the order started.
 */
function startWorkers(filename, options = {}) {
  if (options === null || typeof options !== 'object') {
    throw errors.invalidArgType('options', 'Object', options, startWorkers);
  }
  const { count = os.availableParallelism(), ...workerOptions } = options;
  if (!Number.isSafeInteger(count) || count < 1) {
    throw errors.invalidArgValue('options.count', count, 'must be a positive integer', startWorkers);
  }
  const workers = [];
  for (let i = 0; i < count; i++) workers.push(new Worker(filename, workerOptions));
  return workers;
}

module.exports = { startWorkers };
