'use strict';

// What the runner reads from /proc: CPU time of processes and of the whole
// machine, resident memory, limits, and the machine description recorded
// next to the figures.

const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

// USER_HZ: the unit of CPU times in /proc/stat and /proc/<pid>/stat. It is
// 100 on every Linux architecture Node runs on.
const TICKS_PER_SECOND = 100;
const NS_PER_TICK = 1e9 / TICKS_PER_SECOND;

function readText(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** utime + stime of every thread of `pid`, in nanoseconds (null if gone). */
function processCpuNs(pid) {
  const text = readText(`/proc/${pid}/stat`);
  if (text === null) return null;
  // The command name may contain spaces: count fields after its ')'.
  const fields = text
    .slice(text.lastIndexOf(')') + 2)
    .trim()
    .split(/\s+/);
  return (Number(fields[11]) + Number(fields[12])) * NS_PER_TICK;
}

/** VmRSS of `pid` in bytes. */
function residentBytes(pid) {
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readText(`/proc/${pid}/status`) ?? '');
  if (!match) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]) * 1024;
}

/** The soft "Max open files" limit of `pid`. */
function openFileLimit(pid) {
  const match = /^Max open files\s+(\S+)/m.exec(readText(`/proc/${pid}/limits`) ?? '');
  if (!match) return null;
  return match[1] === 'unlimited' ? Infinity : Number(match[1]);
}

/** The aggregate line of /proc/stat, in nanoseconds per state. */
function machineCpu() {
  const line = (readText('/proc/stat') ?? '').split('\n')[0];
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map((value) => Number(value) * NS_PER_TICK);
  return { user, nice, system, idle, iowait, irq, softirq, steal };
}

// The kernel threads that run deferred network processing. Under loopback
// load they work for the benchmark itself, so their time is counted as
// neither the benchmark's nor outside load.
let softirqThreads;
function softirqThreadsCpuNs() {
  if (softirqThreads === undefined) {
    softirqThreads = [];
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      if ((readText(`/proc/${entry}/comm`) ?? '').startsWith('ksoftirqd/'))
        softirqThreads.push(Number(entry));
    }
  }
  let total = 0;
  for (const pid of softirqThreads) total += processCpuNs(pid) ?? 0;
  return total;
}

/**
 * CPU accounting of one run, to tell whether something outside the
 * benchmark competed for the cores while it ran.
 */
class CpuAccount {
  constructor() {
    this.startedAt = process.hrtime.bigint();
    this.machine = machineCpu();
    this.softirqThreads = softirqThreadsCpuNs();
    this.runner = process.cpuUsage();
    // CPU time of the benchmark's own processes that ended (load
    // generators report theirs when they finish).
    this.childrenNs = 0;
  }

  /**
   * Closes the account; `serverCpuNs` is the whole-life CPU time of the
   * server process, read just now while it is still running.
   */
  finish(serverCpuNs) {
    const wallNs = Number(process.hrtime.bigint() - this.startedAt);
    const machine = machineCpu();
    const delta = {};
    for (const key of Object.keys(machine)) delta[key] = machine[key] - this.machine[key];
    const runner = process.cpuUsage(this.runner);
    const oursNs = (runner.user + runner.system) * 1000 + this.childrenNs + (serverCpuNs ?? 0);
    const busyNs = delta.user + delta.nice + delta.system + delta.irq + delta.softirq;
    const softirqThreadsNs = softirqThreadsCpuNs() - this.softirqThreads;
    const allNs = busyNs + delta.idle + delta.iowait + delta.steal;
    return {
      wallNs,
      oursCores: oursNs / wallNs,
      outsideCores: Math.max(0, busyNs - oursNs - softirqThreadsNs) / wallNs,
      stealShare: allNs > 0 ? delta.steal / allNs : 0,
      // In cores, for the record: the machine's states and what was ours.
      breakdown: {
        ...Object.fromEntries(Object.entries(delta).map(([key, ns]) => [key, ns / wallNs])),
        server: (serverCpuNs ?? 0) / wallNs,
        loadgen: this.childrenNs / wallNs,
        runner: ((runner.user + runner.system) * 1000) / wallNs,
        softirqThreads: softirqThreadsNs / wallNs,
      },
    };
  }
}

// The output of a short command, or null when it cannot run; `anyStatus`
// for tools like wrk whose --version exits with 1.
function commandOutput(command, args, { anyStatus = false, ...options } = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', timeout: 10_000, ...options });
  if (result.error || (result.status !== 0 && !anyStatus)) return null;
  return (result.stdout + result.stderr).trim();
}

function sysctl(name) {
  return (readText(path.join('/proc/sys', ...name.split('.'))) ?? 'unknown').trim().replace(/\s+/g, ' ');
}

/** The machine and software the figures were measured on. */
function describeMachine(root) {
  const cpus = os.cpus();
  const commit = commandOutput('git', ['rev-parse', '--short', 'HEAD'], { cwd: root });
  const dirty = commandOutput('git', ['status', '--porcelain', '--', 'src', 'lib', 'index.js'], {
    cwd: root,
  });
  return {
    date: new Date().toISOString(),
    cores: cpus.length,
    model: cpus[0]?.model ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    rsNetCommit: commit ? `${commit}${dirty ? ' (with uncommitted changes)' : ''}` : 'unknown',
    loadAverageBefore: os.loadavg(),
    loadAverageAfter: null,
    somaxconn: Number(sysctl('net.core.somaxconn')),
    tcpTwReuse: sysctl('net.ipv4.tcp_tw_reuse'),
    portRange: sysctl('net.ipv4.ip_local_port_range'),
    openFileLimit: openFileLimit('self'),
    wrk: commandOutput('wrk', ['--version'], { anyStatus: true })?.split(/\n| Copyright/)[0] ?? null,
  };
}

module.exports = {
  CpuAccount,
  describeMachine,
  machineCpu,
  openFileLimit,
  processCpuNs,
  residentBytes,
};
