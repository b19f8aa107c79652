'use strict';

// Child processes of the runner (servers under test, load generators) and
// the JSON lines they print. Every child is tracked and killed when the
// runner exits, however it exits.

const { spawn } = require('child_process');
const readline = require('readline');

const children = new Set();

// Each child leads its own process group, so killing the group also ends
// what it started (wrk under `loadgen exec`).
function killChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    try {
      child.kill('SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

function killAllChildren() {
  for (const child of children) killChild(child);
}

let exitHooksInstalled = false;

/** Kills every child on exit, Ctrl-C, SIGTERM/SIGHUP and uncaught errors. */
function installExitHooks() {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on('exit', killAllChildren);
  for (const [signal, status] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ]) {
    process.on(signal, () => {
      console.error(`\nbench: ${signal}, stopping the child processes`);
      killAllChildren();
      process.exit(status);
    });
  }
  for (const event of ['uncaughtException', 'unhandledRejection']) {
    process.on(event, (error) => {
      console.error(`bench: ${event}:`, error);
      killAllChildren();
      process.exit(1);
    });
  }
}

/**
 * A child whose stdout carries JSON lines. `expect(event)` takes the first
 * line with that event (earlier lines of other events stay queued); an
 * `{"event":"error"}` line, an exit or the timeout rejects.
 */
class JsonChild {
  constructor(name, command, args, options = {}) {
    this.name = name;
    this.messages = [];
    this.waiters = new Set();
    this.stderr = '';
    this.exit = null;
    this.child = spawn(command, args, { ...options, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    children.add(this.child);
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        children.delete(this.child);
        this.exit = { code, signal };
        this.wake();
        resolve(this.exit);
      });
    });
    this.child.on('error', (error) => {
      children.delete(this.child);
      this.exit = { code: null, signal: null, error };
      this.wake();
    });
    // A child that exits before reading its stdin must not crash the runner.
    this.child.stdin.on('error', () => {});
    readline.createInterface({ input: this.child.stdout }).on('line', (line) => {
      let message;
      try {
        message = JSON.parse(line);
      } catch {
        message = { event: 'text', text: line };
      }
      this.messages.push(message);
      this.wake();
    });
    this.child.stderr.on('data', (chunk) => {
      // The tail is enough to explain a failure.
      this.stderr = (this.stderr + chunk).slice(-4000);
    });
  }

  get pid() {
    return this.child.pid;
  }

  wake() {
    for (const waiter of this.waiters) waiter();
  }

  send(line) {
    if (this.child.stdin.writable) this.child.stdin.write(line + '\n');
  }

  expect(event, timeoutMs) {
    return new Promise((resolve, reject) => {
      const check = () => {
        const index = this.messages.findIndex(
          (message) => message.event === event || message.event === 'error',
        );
        if (index !== -1) {
          const [message] = this.messages.splice(index, 1);
          finish();
          if (message.event === 'error') reject(new Error(`${this.name}: ${message.message}`));
          else resolve(message);
        } else if (this.exit) {
          finish();
          const how = this.exit.error
            ? this.exit.error.message
            : `exited (code ${this.exit.code}, signal ${this.exit.signal})`;
          reject(
            new Error(
              `${this.name} ${how} before "${event}"${this.stderr ? `; stderr: ${this.stderr.trim()}` : ''}`,
            ),
          );
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`${this.name}: no "${event}" within ${timeoutMs} ms`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Ends stdin, waits up to `graceMs` for the exit, then kills the group. */
  async stop(graceMs = 2000) {
    if (this.exit) return this.exit;
    this.child.stdin.end();
    let timer;
    const waited = await Promise.race([
      this.exited,
      new Promise((resolve) => {
        timer = setTimeout(resolve, graceMs, null);
      }),
    ]);
    clearTimeout(timer);
    if (!waited) killChild(this.child);
    return this.exited;
  }

  kill() {
    killChild(this.child);
  }
}

module.exports = { JsonChild, installExitHooks, killAllChildren };
