#!/usr/bin/env node
'use strict';

// The rs-net benchmark: every workload against rs-net and against node:net,
// alternating (A B A B) over rounds, each run in a fresh server process
// (bench/server.js) driven by a separate native load generator
// (bench/loadgen) or wrk. Prints medians with rs-net/node ratios and writes
// bench/RESULTS.md. See bench/README.md.

const fs = require('fs');
const { runWorkerRows } = require('./groups');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

const { installExitHooks } = require('./lib/children');
const { describeMachine } = require('./lib/system');
const { WORKLOADS, runWorkload } = require('./lib/workloads');
const {
  MODULES,
  MODULE_LABEL,
  extractSummary,
  flagsOf,
  formatNumber,
  mediansTable,
  resultsMarkdown,
  summarizeWorkload,
  summaryTable,
} = require('./lib/report');

const BENCH = __dirname;
const ROOT = path.join(BENCH, '..');
const LOADGEN_DIR = path.join(BENCH, 'loadgen');
const LOADGEN = path.join(LOADGEN_DIR, 'target', 'release', 'loadgen');
const RESULTS = path.join(BENCH, 'RESULTS.md');

const FULL = {
  rounds: 5,
  warmupMs: 1000,
  durationMs: 5000,
  churnClients: 50,
  echoConnections: 50,
  messageSize: 64,
  bulkBytes: 2 ** 30,
  bulkWarmupBytes: 64 * 2 ** 20,
  idleConnections: 10_000,
  idleWarmupConnections: 200,
  idleParallel: 128,
  burstConnections: 5000,
  burstWarmupConnections: 200,
  listenCycles: 1000,
  listenWarmup: 50,
  httpConnections: 50,
  httpSeconds: 5,
  httpWarmupSeconds: 1,
  loadgenThreads: 1,
  maxOutsideCores: 0.1,
  maxSteal: 0.02,
  minAccountMs: 1000,
  pauseMs: 200,
};

// Smoke-test sizes: every code path, a few seconds, figures meaningless.
const QUICK = {
  ...FULL,
  rounds: 1,
  warmupMs: 100,
  durationMs: 300,
  bulkBytes: 32 * 2 ** 20,
  bulkWarmupBytes: 4 * 2 ** 20,
  idleConnections: 1000,
  idleWarmupConnections: 50,
  burstConnections: 500,
  burstWarmupConnections: 50,
  listenCycles: 100,
  listenWarmup: 10,
  httpSeconds: 1,
  httpWarmupSeconds: 1,
  minAccountMs: 300,
  pauseMs: 50,
};

const USAGE = `usage: node bench/run.js [options]     (npm run bench -- [options])

  --rounds N         rounds of A/B runs per workload (default ${FULL.rounds}; quick: ${QUICK.rounds})
  --quick            smoke run: tiny windows and sizes, for checking the harness only;
                     writes no RESULTS.md unless --out is given
  --only a,b         run only these workloads: ${WORKLOADS.map((w) => w.id).join(', ')}, workers
  --set key=value    override a numeric setting (repeatable), e.g. --set idleConnections=10000
  --out FILE         write the results there instead of bench/RESULTS.md
  --no-write         do not write a results file
  --summary          print the README summary of the last bench/RESULTS.md and exit
  --help             this text

Settings (full run): ${JSON.stringify(FULL)}`;

function parseArguments(argv) {
  const options = {
    quick: false,
    only: null,
    sets: {},
    out: undefined,
    write: true,
    summary: false,
    rounds: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[++i];
    };
    switch (arg) {
      case '--quick':
        options.quick = true;
        break;
      case '--rounds':
        options.rounds = Number(value());
        if (!Number.isInteger(options.rounds) || options.rounds < 1 || options.rounds > 100) {
          throw new Error('--rounds must be a whole number from 1 to 100');
        }
        break;
      case '--only':
        options.only = value().split(',');
        for (const id of options.only) {
          if (id !== 'workers' && !WORKLOADS.some((w) => w.id === id))
            throw new Error(`unknown workload ${id}`);
        }
        break;
      case '--set': {
        const [key, text] = value().split('=');
        if (!(key in FULL) || !Number.isFinite(Number(text)))
          throw new Error(`--set: bad setting ${key}=${text}`);
        options.sets[key] = Number(text);
        break;
      }
      case '--out':
        options.out = path.resolve(value());
        break;
      case '--no-write':
        options.write = false;
        break;
      case '--summary':
        options.summary = true;
        break;
      case '--help':
      case '-h':
        console.log(USAGE);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown argument ${arg}\n\n${USAGE}`);
    }
  }
  return options;
}

/** Builds the load generator (cargo's own check makes this quick when nothing changed). */
function buildLoadgen() {
  console.log('bench: building the load generator (cargo build --release in bench/loadgen)');
  const result = spawnSync(process.env.CARGO || 'cargo', ['build', '--release', '--quiet'], {
    cwd: LOADGEN_DIR,
    stdio: 'inherit',
    timeout: 15 * 60_000,
  });
  if (result.error && fs.existsSync(LOADGEN)) {
    console.warn(`bench: could not run cargo (${result.error.message}); using the existing ${LOADGEN}`);
    return;
  }
  if (result.error || result.status !== 0) {
    throw new Error(`building bench/loadgen failed (${result.error?.message ?? `status ${result.status}`})`);
  }
}

function checkAddon() {
  const addon = path.join(ROOT, 'build', 'rs_net.node');
  if (!fs.existsSync(addon))
    throw new Error(`the rs-net addon is not built (${addon}); run npm install or npm run build`);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function describeRun(workload, run) {
  const figures = workload.figures
    .map((figure) => `${formatNumber(run.values[figure.key])} ${figure.label}`)
    .join(', ');
  const cpu = run.cpu
    ? `outside ${run.cpu.outsideCores.toFixed(2)} cores, steal ${(run.cpu.stealShare * 100).toFixed(1)}%`
    : '';
  const notes = [...run.flags, ...(run.error ? [run.error] : []), ...run.problems];
  return `${figures || '-'}  [${cpu}]${notes.length ? `  ⚠ ${notes.join('; ')}` : ''}`;
}

async function main() {
  const options = parseArguments(process.argv.slice(2));
  if (options.summary) {
    const summary = fs.existsSync(RESULTS) ? extractSummary(fs.readFileSync(RESULTS, 'utf8')) : null;
    if (!summary) throw new Error(`no summary in ${RESULTS}; run the benchmark first`);
    console.log(summary);
    return 0;
  }
  installExitHooks();

  const config = { ...(options.quick ? QUICK : FULL), ...options.sets, quick: options.quick };
  if (options.rounds !== null) config.rounds = options.rounds;
  const limits = { maxOutsideCores: config.maxOutsideCores, maxSteal: config.maxSteal };
  const outFile = options.write ? (options.out ?? (options.quick ? null : RESULTS)) : null;
  const args = process.argv.slice(2).join(' ');
  const command =
    process.env.npm_lifecycle_event === 'bench'
      ? `npm run bench${args ? ` -- ${args}` : ''}`
      : `node bench/run.js${args ? ` ${args}` : ''}`;

  checkAddon();
  buildLoadgen();
  const machine = describeMachine(ROOT);
  const workloads = WORKLOADS.filter((w) => !options.only || options.only.includes(w.id));

  console.log(`bench: ${command}`);
  console.log(
    `bench: ${machine.cores} × ${machine.model}, Node ${machine.node}, load average ${machine.loadAverageBefore
      .map((v) => v.toFixed(2))
      .join(' ')}${options.quick ? '  (QUICK SMOKE RUN: figures are noise)' : ''}`,
  );
  if (os.cpus().length < 2)
    console.warn('bench: fewer than 2 cores: the load generator and the server share one');
  if (workloads.some((w) => w.id === 'burst') && machine.somaxconn < config.burstConnections) {
    console.warn(
      `bench: net.core.somaxconn is ${machine.somaxconn}, below the burst of ${config.burstConnections}: ` +
        'if the server falls behind, dropped SYNs are retried after 1 s and the accept time shows it',
    );
  }

  const skipped = {};
  for (const workload of workloads) {
    const reason = workload.skipReason?.(machine);
    if (reason) {
      skipped[workload.id] = reason;
      console.log(`bench: ${workload.title}: skipped, ${reason}`);
    }
  }

  const runsByWorkload = {};
  for (const workload of workloads) runsByWorkload[workload.id] = [];
  for (let round = 1; round <= config.rounds; round++) {
    for (const workload of workloads) {
      if (skipped[workload.id]) continue;
      for (const moduleName of MODULES) {
        const run = await runWorkload(workload, moduleName, config, LOADGEN);
        run.flags = flagsOf(run, limits);
        runsByWorkload[workload.id].push({ round, moduleName, run });
        if (process.env.BENCH_DEBUG_CPU) console.log(JSON.stringify(run.cpu));
        console.log(
          `round ${round}/${config.rounds}  ${workload.id.padEnd(8)} ${MODULE_LABEL[moduleName].padEnd(8)} ${describeRun(workload, run)}`,
        );
        await sleep(config.pauseMs);
      }
    }
  }
  machine.loadAverageAfter = os.loadavg();

  const results = workloads.map((workload) => {
    if (skipped[workload.id]) return { workload, skipped: skipped[workload.id] };
    const byModule = {};
    for (const { moduleName, run } of runsByWorkload[workload.id]) (byModule[moduleName] ??= []).push(run);
    return { workload, summary: summarizeWorkload(workload, byModule) };
  });

  console.log('');
  console.log(mediansTable(results));
  console.log('');
  console.log('Summary for the README:');
  console.log('');
  console.log(summaryTable(results, machine, config));
  if (outFile) {
    fs.writeFileSync(outFile, resultsMarkdown({ results, machine, config, command, limits, runsByWorkload }));
    console.log(`\nbench: wrote ${path.relative(process.cwd(), outFile) || outFile}`);
  } else {
    console.log('\nbench: no results file written (quick runs write one only with --out FILE)');
  }

  // The worker rows (bench/groups.js): listener group, reusePort and
  // cluster side by side, written next to the main results.
  if (!options.only || options.only.includes('workers')) {
    console.log('');
    await runWorkerRows({
      quick: options.quick,
      out: outFile ? path.join(path.dirname(outFile), 'RESULTS-groups.md') : undefined,
    });
  }

  const allRuns = Object.values(runsByWorkload).flat();
  const bad = allRuns.filter(({ run }) => run.flags.includes('failed') || run.flags.includes('invalid'));
  const disturbed = allRuns.filter(({ run }) => run.flags.includes('disturbed'));
  if (disturbed.length) {
    console.warn(`bench: ${disturbed.length} of ${allRuns.length} runs were disturbed by outside load`);
  }
  if (bad.length) {
    console.error(`bench: ${bad.length} of ${allRuns.length} runs failed or were invalid (see above)`);
    return 1;
  }
  return 0;
}

main().then(
  (status) => {
    process.exitCode = status;
  },
  (error) => {
    console.error(`bench: ${error.message}`);
    process.exitCode = 1;
  },
);
