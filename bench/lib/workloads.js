'use strict';

// The workloads: what each one starts, what it asks the load generator and
// the server, how its figures are computed, and the cross-checks that make
// a run invalid when the two processes disagree about what happened.

const path = require('path');

const { JsonChild } = require('./children');
const { CpuAccount, openFileLimit, processCpuNs, residentBytes } = require('./system');

const ROOT = path.join(__dirname, '..', '..');
const SERVER = path.join(__dirname, '..', 'server.js');

const seconds = (ns) => ns / 1e9;

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/**
 * One run: one workload against one module, in a fresh server process, with
 * the CPU account that tells whether something else competed for the cores.
 */
class Run {
  constructor(moduleName, loadgenPath) {
    this.moduleName = moduleName;
    this.loadgenPath = loadgenPath;
    this.children = [];
  }

  async start(serverMode) {
    this.account = new CpuAccount();
    this.server = new JsonChild(
      `server (${this.moduleName}, ${serverMode})`,
      process.execPath,
      ['--expose-gc', SERVER, this.moduleName, serverMode],
      { cwd: ROOT },
    );
    this.children.push(this.server);
    const ready = await this.server.expect('ready', 20_000);
    this.serverPid = ready.pid;
    this.port = ready.port;
    this.addr = `127.0.0.1:${ready.port}`;
  }

  /** Sends a command to the server and waits for the reply event. */
  command(command, event, timeoutMs = 30_000) {
    this.server.send(JSON.stringify(command));
    return this.server.expect(event, timeoutMs);
  }

  spawnLoadgen(args) {
    const child = new JsonChild(`loadgen ${args[0]}`, this.loadgenPath, args.map(String));
    this.children.push(child);
    return child;
  }

  // The load generator's CPU time counts as the benchmark's own.
  async collect(child, timeoutMs) {
    const result = await child.expect('result', timeoutMs);
    this.account.childrenNs += result.self_cpu_ns + result.children_cpu_ns;
    await child.stop();
    return result;
  }

  /** Runs the load generator to completion and returns its result. */
  loadgen(args, timeoutMs) {
    return this.collect(this.spawnLoadgen(args), timeoutMs);
  }

  /** Starts `loadgen hold` and waits until its connections are open. */
  async hold(connections, parallel, timeoutMs) {
    const child = this.spawnLoadgen([
      'hold',
      '--addr',
      this.addr,
      '--connections',
      connections,
      '--parallel',
      parallel,
      '--hold-max-ms',
      timeoutMs + 60_000,
    ]);
    child.opened = await child.expect('opened', timeoutMs);
    return child;
  }

  /** Lets a `hold` close its connections and collects its result. */
  release(child, timeoutMs = 30_000) {
    child.send('release');
    return this.collect(child, timeoutMs);
  }

  /**
   * Closes the CPU account while the server is still alive. A run shorter
   * than `minAccountMs` is padded with idle time first: per-process times
   * come in 10 ms ticks, too coarse to judge outside load over a 100 ms
   * run, and while everything of ours idles, any busy CPU is outside load.
   */
  async finish(minAccountMs) {
    const elapsedMs = Number(process.hrtime.bigint() - this.account.startedAt) / 1e6;
    if (elapsedMs < minAccountMs)
      await new Promise((resolve) => setTimeout(resolve, minAccountMs - elapsedMs));
    return this.account.finish(processCpuNs(this.serverPid));
  }

  async close() {
    await Promise.all(this.children.map((child) => child.stop(1000)));
  }
}

// Problems every load generator result may report.
function loadgenProblems(result, problems) {
  if (result.errors > 0) {
    problems.push(`load generator: ${result.errors} failed operations (first: ${result.first_error})`);
  }
}

function timedArgs(run, config) {
  return [
    '--addr',
    run.addr,
    '--server-pid',
    run.serverPid,
    '--warmup-ms',
    config.warmupMs,
    '--duration-ms',
    config.durationMs,
    '--threads',
    config.loadgenThreads,
  ];
}

const timedTimeout = (config) => config.warmupMs + config.durationMs + 30_000;

async function echoWorkload(run, config, connections) {
  const result = await run.loadgen(
    ['echo', ...timedArgs(run, config), '--connections', connections, '--size', config.messageSize],
    timedTimeout(config),
  );
  const stats = await run.command({ cmd: 'stats' }, 'stats');
  const problems = [];
  loadgenProblems(result, problems);
  if (result.errors === 0 && stats.echoedBytes !== result.total_round_trips * config.messageSize) {
    problems.push(
      `server echoed ${stats.echoedBytes} bytes, the load generator completed ${result.total_round_trips} round trips of ${config.messageSize}`,
    );
  }
  if (result.round_trips === 0) problems.push('no round trip completed in the window');
  const window = result.window;
  return {
    values: {
      roundTripsPerSecond: result.round_trips / seconds(window.wall_ns),
      p50Us: result.latency.p50_ns / 1e3,
      p99Us: result.latency.p99_ns / 1e3,
      cpuUsPerRoundTrip: window.server_cpu_ns / 1e3 / result.round_trips,
    },
    problems,
  };
}

async function bulkWorkload(run, config, direction) {
  const result = await run.loadgen(
    [
      direction,
      '--addr',
      run.addr,
      '--server-pid',
      run.serverPid,
      '--bytes',
      config.bulkBytes,
      '--warmup-bytes',
      config.bulkWarmupBytes,
      '--threads',
      config.loadgenThreads,
    ],
    180_000,
  );
  const window = result.window;
  return {
    values: {
      megabytesPerSecond: result.bytes / 1e6 / seconds(window.wall_ns),
      cpuMsPerGiB: (window.server_cpu_ns / 1e6) * (2 ** 30 / result.bytes),
    },
    problems: [],
  };
}

// wrk prints durations with a unit; figures use milliseconds.
function wrkMs(value, unit) {
  return Number(value) * { us: 1e-3, ms: 1, s: 1e3, m: 60e3, h: 3600e3 }[unit];
}

function parseWrk(text) {
  const latency = (percent) => {
    const match = new RegExp(`^\\s*${percent}%\\s+([\\d.]+)(us|ms|s|m|h)\\s*$`, 'm').exec(text);
    return match ? wrkMs(match[1], match[2]) : NaN;
  };
  const requests = /(\d+) requests in ([\d.]+)(us|ms|s|m|h)/.exec(text);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  return {
    requests: requests ? Number(requests[1]) : NaN,
    requestsPerSecond: Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? NaN),
    p50Ms: latency(50),
    p99Ms: latency(99),
    socketErrors: socketErrors ? socketErrors.slice(1).reduce((sum, count) => sum + Number(count), 0) : 0,
    non2xx: non2xx ? Number(non2xx[1]) : 0,
  };
}

/**
 * Each workload: `serverMode` is the handler bench/server.js runs,
 * `figures` what is reported (which direction is better, and whether it is
 * a headline figure for the README summary), `measure` does the work and
 * returns { values, problems }.
 */
const HTTP_FIGURES = [
  { key: 'requestsPerSecond', label: 'requests/s', better: 'higher', headline: true },
  { key: 'p50Ms', label: 'p50 latency ms', better: 'lower' },
  { key: 'p99Ms', label: 'p99 latency ms', better: 'lower', headline: true },
  { key: 'cpuUsPerRequest', label: 'server CPU µs/request', better: 'lower' },
];

// Churn through http: what each connection costs the server counts too.
const HTTP_CHURN_FIGURES = HTTP_FIGURES.map((figure) =>
  figure.key === 'cpuUsPerRequest' ? { ...figure, headline: true } : figure,
);

const WORKLOADS = [
  {
    id: 'churn',
    title: 'Connection churn',
    describe: (c) => `${c.churnClients} clients: connect, 16 B echo, close`,
    serverMode: 'echo',
    figures: [
      { key: 'connectionsPerSecond', label: 'connections/s', better: 'higher', headline: true },
      { key: 'cpuUsPerConnection', label: 'server CPU µs/connection', better: 'lower', headline: true },
    ],
    async measure(run, config) {
      const result = await run.loadgen(
        ['churn', ...timedArgs(run, config), '--clients', config.churnClients],
        timedTimeout(config),
      );
      const stats = await run.command({ cmd: 'stats' }, 'stats');
      const problems = [];
      loadgenProblems(result, problems);
      // An independent count: every connection the load generator completed
      // must have been accepted once by the server, and none more.
      if (result.errors === 0 && stats.accepted !== result.total_connections) {
        problems.push(
          `server accepted ${stats.accepted} connections, the load generator completed ${result.total_connections}`,
        );
      }
      if (result.connections === 0) problems.push('no connection completed in the window');
      return {
        values: {
          connectionsPerSecond: result.connections / seconds(result.window.wall_ns),
          cpuUsPerConnection: result.window.server_cpu_ns / 1e3 / result.connections,
        },
        problems,
      };
    },
  },
  {
    id: 'echo',
    title: 'Echo, many connections',
    describe: (c) => `${c.echoConnections} connections, ${c.messageSize} B messages, one in flight each`,
    serverMode: 'echo',
    figures: [
      { key: 'roundTripsPerSecond', label: 'round trips/s', better: 'higher', headline: true },
      { key: 'p50Us', label: 'p50 latency µs', better: 'lower' },
      { key: 'p99Us', label: 'p99 latency µs', better: 'lower', headline: true },
      { key: 'cpuUsPerRoundTrip', label: 'server CPU µs/round trip', better: 'lower' },
    ],
    measure: (run, config) => echoWorkload(run, config, config.echoConnections),
  },
  {
    id: 'echo1',
    title: 'Echo, one connection',
    describe: (c) => `1 connection, ${c.messageSize} B messages`,
    serverMode: 'echo',
    figures: [
      { key: 'p50Us', label: 'p50 latency µs', better: 'lower', headline: true },
      { key: 'p99Us', label: 'p99 latency µs', better: 'lower' },
    ],
    measure: (run, config) => echoWorkload(run, config, 1),
  },
  {
    id: 'bulk-in',
    title: 'Bulk into the server',
    describe: (c) => `${formatBytes(c.bulkBytes)} over one connection, client to server`,
    serverMode: 'sink',
    figures: [
      { key: 'megabytesPerSecond', label: 'MB/s', better: 'higher', headline: true },
      { key: 'cpuMsPerGiB', label: 'server CPU ms/GiB', better: 'lower' },
    ],
    measure: (run, config) => bulkWorkload(run, config, 'bulk-in'),
  },
  {
    id: 'bulk-out',
    title: 'Bulk out of the server',
    describe: (c) => `${formatBytes(c.bulkBytes)} over one connection, server to client`,
    serverMode: 'source',
    figures: [
      { key: 'megabytesPerSecond', label: 'MB/s', better: 'higher', headline: true },
      { key: 'cpuMsPerGiB', label: 'server CPU ms/GiB', better: 'lower' },
    ],
    measure: (run, config) => bulkWorkload(run, config, 'bulk-out'),
  },
  {
    id: 'idle',
    title: 'Idle connections',
    describe: (c) => `${c.idleConnections} open connections doing nothing`,
    serverMode: 'echo',
    figures: [
      { key: 'bytesPerConnection', label: 'server RSS bytes/connection', better: 'lower', headline: true },
    ],
    async measure(run, config) {
      const count = config.idleConnections;
      const limit = openFileLimit(run.serverPid);
      if (limit !== null && limit < count + 200) {
        throw new Error(
          `the server may hold only ${limit} descriptors, fewer than ${count} connections need (raise ulimit -n)`,
        );
      }
      // Warm up first, so code compiled and buffers allocated on the first
      // connections are not charged to the measured ones.
      const warm = await run.hold(config.idleWarmupConnections, config.idleParallel, 60_000);
      await run.command(
        { cmd: 'wait-open', count: config.idleWarmupConnections, timeoutMs: 30_000 },
        'open-reached',
      );
      await run.release(warm);
      await run.command({ cmd: 'wait-open', count: 0, timeoutMs: 30_000 }, 'open-reached');
      // Collect garbage before each reading, so what is compared is what
      // the connections keep alive, not when the collector last ran.
      await run.command({ cmd: 'gc' }, 'gc');
      const before = residentBytes(run.serverPid);
      const held = await run.hold(count, config.idleParallel, 120_000);
      await run.command({ cmd: 'wait-open', count, timeoutMs: 60_000 }, 'open-reached', 65_000);
      await run.command({ cmd: 'gc' }, 'gc');
      const after = residentBytes(run.serverPid);
      const result = await run.release(held);
      const problems = [];
      if (!result.released) problems.push('the load generator stopped holding before it was released');
      return { values: { bytesPerConnection: (after - before) / count }, problems };
    },
  },
  {
    id: 'burst',
    title: 'Connection burst',
    describe: (c) => `${c.burstConnections} connections opened at once`,
    serverMode: 'echo',
    figures: [
      { key: 'eventLoopDelayP99Ms', label: 'event-loop delay p99 ms', better: 'lower', headline: true },
      { key: 'eventLoopDelayMaxMs', label: 'event-loop delay max ms', better: 'lower' },
      { key: 'acceptAllMs', label: 'ms until all accepted', better: 'lower', headline: true },
    ],
    async measure(run, config) {
      const count = config.burstConnections;
      // Warm up, so the burst meets compiled code, as a running server's would.
      const warm = await run.hold(config.burstWarmupConnections, config.idleParallel, 60_000);
      await run.command(
        { cmd: 'wait-open', count: config.burstWarmupConnections, timeoutMs: 30_000 },
        'open-reached',
      );
      await run.release(warm);
      await run.command({ cmd: 'wait-open', count: 0, timeoutMs: 30_000 }, 'open-reached');
      run.server.send(JSON.stringify({ cmd: 'arm-burst', count, timeoutMs: 60_000 }));
      await run.server.expect('armed', 10_000);
      const held = await run.hold(count, count, 90_000);
      const accepted = await run.server.expect('burst-accepted', 65_000);
      const result = await run.release(held);
      const problems = [];
      if (!result.released) problems.push('the load generator stopped holding before it was released');
      const acceptAllMs = (Number(accepted.acceptedAtMonoNs) - held.opened.start_mono_ns) / 1e6;
      if (!(acceptAllMs > 0)) problems.push(`accept time ${acceptAllMs} ms is not positive: clocks disagree`);
      return {
        values: {
          eventLoopDelayP99Ms: accepted.eventLoopDelay.p99Ns / 1e6,
          eventLoopDelayMaxMs: accepted.eventLoopDelay.maxNs / 1e6,
          acceptAllMs,
        },
        problems,
      };
    },
  },
  {
    id: 'listen',
    title: 'listen() and close()',
    describe: (c) => `${c.listenCycles} listen/close cycles on 127.0.0.1:0, in the server process`,
    serverMode: 'listen',
    figures: [
      { key: 'listenUs', label: "listen() to 'listening' µs (median)", better: 'lower', headline: true },
      { key: 'cyclesPerSecond', label: 'listen/close cycles/s', better: 'higher' },
    ],
    async measure(run, config) {
      const result = await run.command(
        { cmd: 'listen-cycles', cycles: config.listenCycles, warmup: config.listenWarmup, timeoutMs: 60_000 },
        'listen-cycles',
        70_000,
      );
      const problems = [];
      if (result.cycles < config.listenCycles) {
        problems.push(
          `only ${result.cycles} of ${config.listenCycles} cycles finished within the time bound`,
        );
      }
      return {
        values: {
          listenUs: median(result.listenNs) / 1e3,
          cyclesPerSecond: result.cycles / seconds(result.elapsedNs),
        },
        problems,
      };
    },
  },
  {
    id: 'http',
    title: 'HTTP keep-alive (wrk)',
    describe: (c) =>
      `wrk, ${c.httpConnections} keep-alive connections, node's http fed by the module's server`,
    serverMode: 'http',
    skipReason: (machine) =>
      machine.wrk ? null : 'wrk is not installed (apt-get install -y wrk, or any wrk on PATH)',
    figures: HTTP_FIGURES,
    measure: (run, config) => measureWrk(run, config),
  },
  {
    id: 'http-server',
    title: "HTTP keep-alive, the module's own http (wrk)",
    describe: (c) => `wrk, ${c.httpConnections} keep-alive connections, node:http's server vs rs-net/http's`,
    serverMode: 'http-server',
    skipReason: (machine) =>
      machine.wrk ? null : 'wrk is not installed (apt-get install -y wrk, or any wrk on PATH)',
    figures: HTTP_FIGURES,
    measure: (run, config) => measureWrk(run, config),
  },
  {
    id: 'http-close',
    title: "HTTP with Connection: close, the module's own http (wrk)",
    describe: (c) =>
      `wrk, ${c.httpConnections} clients, a new connection per request (Connection: close), node:http vs rs-net/http`,
    serverMode: 'http-server',
    skipReason: (machine) =>
      machine.wrk ? null : 'wrk is not installed (apt-get install -y wrk, or any wrk on PATH)',
    figures: HTTP_CHURN_FIGURES,
    async measure(run, config) {
      const measured = await measureWrk(run, config, ['-H', 'Connection: close']);
      // Every request was a connection of its own: the server must have
      // accepted at least as many as wrk completed.
      const stats = await run.command({ cmd: 'stats' }, 'stats');
      if (stats.accepted < measured.requests) {
        measured.problems.push(
          `server accepted ${stats.accepted} connections for ${measured.requests} requests`,
        );
      }
      return measured;
    },
  },
];

/** wrk against the server (warm-up, then the measured window with --latency). */
async function measureWrk(run, config, extra = []) {
  const url = `http://${run.addr}/`;
  const wrk = (secs, more = []) => [
    'exec',
    '--server-pid',
    run.serverPid,
    '--',
    'wrk',
    '-t1',
    `-c${config.httpConnections}`,
    `-d${secs}s`,
    '--timeout',
    '5s',
    ...extra,
    ...more,
    url,
  ];
  if (config.httpWarmupSeconds > 0) {
    await run.loadgen(wrk(config.httpWarmupSeconds), config.httpWarmupSeconds * 1000 + 30_000);
  }
  const result = await run.loadgen(
    wrk(config.httpSeconds, ['--latency']),
    config.httpSeconds * 1000 + 30_000,
  );
  const problems = [];
  if (result.status !== 0) problems.push(`wrk exited with status ${result.status}: ${result.stderr.trim()}`);
  const parsed = parseWrk(result.stdout);
  if (parsed.socketErrors > 0) problems.push(`wrk: ${parsed.socketErrors} socket errors`);
  if (parsed.non2xx > 0) problems.push(`wrk: ${parsed.non2xx} responses were not 2xx`);
  if (!(parsed.requests > 0)) problems.push(`could not read wrk's output: ${result.stdout.trim()}`);
  return {
    values: {
      requestsPerSecond: parsed.requestsPerSecond,
      p50Ms: parsed.p50Ms,
      p99Ms: parsed.p99Ms,
      cpuUsPerRequest: result.window.server_cpu_ns / 1e3 / parsed.requests,
    },
    requests: parsed.requests,
    problems,
  };
}

function formatBytes(bytes) {
  for (const [unit, size] of [
    ['GiB', 2 ** 30],
    ['MiB', 2 ** 20],
    ['KiB', 2 ** 10],
  ]) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size} ${unit}`;
  }
  return `${bytes} B`;
}

/** Runs one workload against one module; never throws. */
async function runWorkload(workload, moduleName, config, loadgenPath) {
  const run = new Run(moduleName, loadgenPath);
  try {
    await run.start(workload.serverMode);
    const { values, problems } = await workload.measure(run, config);
    for (const figure of workload.figures) {
      if (!Number.isFinite(values[figure.key])) problems.push(`${figure.label} is ${values[figure.key]}`);
    }
    return { values, problems, cpu: await run.finish(config.minAccountMs) };
  } catch (error) {
    return { values: {}, problems: [], error: error.message, cpu: run.account ? await run.finish(0) : null };
  } finally {
    await run.close();
  }
}

module.exports = { WORKLOADS, median, parseWrk, runWorkload };
