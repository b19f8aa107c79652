'use strict';

// From runs to figures: which runs count (the contention rule), medians,
// ratios, and the tables printed and written to bench/RESULTS.md.

const { median } = require('./workloads');

const MODULES = ['rs-net', 'net'];
const MODULE_LABEL = { 'rs-net': 'rs-net', net: 'node:net' };

const SUMMARY_START = '<!-- summary:start -->';
const SUMMARY_END = '<!-- summary:end -->';

/**
 * The flags of one run. 'failed': it threw; 'invalid': a cross-check or a
 * figure failed; 'disturbed': something outside the benchmark used more
 * than `maxOutsideCores` of CPU on average over the run, or the hypervisor
 * stole more than `maxSteal` of the machine's CPU time.
 */
function flagsOf(run, limits) {
  const flags = [];
  if (run.error) flags.push('failed');
  if (run.problems.length) flags.push('invalid');
  if (run.cpu && (run.cpu.outsideCores > limits.maxOutsideCores || run.cpu.stealShare > limits.maxSteal)) {
    flags.push('disturbed');
  }
  return flags;
}

/**
 * The median of one figure for one module, from clean runs when there are
 * any for both modules, otherwise from every run that produced figures
 * (and then marked disturbed); never from failed or invalid runs.
 */
function summarizeWorkload(workload, runsByModule) {
  const usable = {};
  const clean = {};
  for (const moduleName of MODULES) {
    const runs = runsByModule[moduleName] ?? [];
    usable[moduleName] = runs.filter(
      (run) => !run.flags.includes('failed') && !run.flags.includes('invalid'),
    );
    clean[moduleName] = usable[moduleName].filter((run) => run.flags.length === 0);
  }
  const useClean = MODULES.every((moduleName) => clean[moduleName].length > 0);
  const chosen = useClean ? clean : usable;
  const rows = workload.figures.map((figure) => {
    const medians = {};
    for (const moduleName of MODULES) {
      medians[moduleName] = median(chosen[moduleName].map((run) => run.values[figure.key]));
    }
    return { figure, medians, ratio: medians['rs-net'] / medians.net };
  });
  const counts = {};
  for (const moduleName of MODULES) {
    counts[moduleName] = {
      total: (runsByModule[moduleName] ?? []).length,
      clean: clean[moduleName].length,
      used: chosen[moduleName].length,
    };
  }
  return { rows, counts, disturbed: !useClean && MODULES.every((m) => usable[m].length > 0) };
}

/** Three significant digits, with thousands separators for big numbers. */
function formatNumber(value) {
  if (!Number.isFinite(value)) return 'n/a';
  const magnitude = Math.abs(value);
  const digits = magnitude >= 100 ? 0 : magnitude >= 10 ? 1 : magnitude >= 1 ? 2 : 3;
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function formatRatio(ratio) {
  return Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : 'n/a';
}

function markdownTable(header, rows) {
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const row of rows)
    lines.push(`| ${row.map((cell) => String(cell).replace(/\|/g, '\\|')).join(' | ')} |`);
  return lines.join('\n');
}

function roundsCell(summary) {
  const { counts } = summary;
  const text = MODULES.map((m) => `${counts[m].used}/${counts[m].total}`).join(' · ');
  return summary.disturbed ? `${text} ⚠ disturbed` : text;
}

/** The medians table: every figure of every workload, with the ratio. */
function mediansTable(results) {
  const rows = [];
  for (const { workload, summary, skipped } of results) {
    if (skipped) {
      rows.push([workload.title, `skipped: ${skipped}`, '', '', '', '', '']);
      continue;
    }
    summary.rows.forEach(({ figure, medians, ratio }, index) => {
      rows.push([
        index === 0 ? workload.title : '',
        figure.label,
        formatNumber(medians['rs-net']),
        formatNumber(medians.net),
        formatRatio(ratio),
        `${figure.better} is better`,
        index === 0 ? roundsCell(summary) : '',
      ]);
    });
  }
  return markdownTable(
    ['Workload', 'Figure', 'rs-net', 'node:net', 'rs-net/node', '', 'runs used (rs-net · node)'],
    rows,
  );
}

/** A short table for the README: the headline figure(s) of each workload. */
function summaryTable(results, machine, config) {
  const rows = [];
  for (const { workload, summary, skipped } of results) {
    if (skipped) continue;
    for (const { figure, medians, ratio } of summary.rows) {
      if (!figure.headline) continue;
      rows.push([
        `${workload.title}${summary.disturbed ? ' ⚠' : ''}`,
        figure.label,
        formatNumber(medians['rs-net']),
        formatNumber(medians.net),
        formatRatio(ratio),
      ]);
    }
  }
  const table = markdownTable(['Workload', 'Figure', 'rs-net', 'node:net', 'rs-net/node'], rows);
  const skippedNotes = results
    .filter((result) => result.skipped)
    .map((result) => ` ${result.workload.title} skipped: ${result.skipped}.`)
    .join('');
  const caption =
    `Medians of ${config.rounds} alternating rounds, ${machine.date.slice(0, 10)}, ` +
    `${machine.cores} × ${machine.model}, Node ${machine.node}` +
    `${config.quick ? ' (QUICK SMOKE RUN: not a measurement)' : ''}.` +
    `${results.some((result) => result.summary?.disturbed) ? ' ⚠: every run of that workload was disturbed by outside load.' : ''}` +
    `${skippedNotes} Details: bench/RESULTS.md.`;
  return `${table}\n\n${caption}`;
}

function runsTable(workload, runsByRound) {
  const header = [
    'round',
    'module',
    ...workload.figures.map((figure) => figure.label),
    'our CPU (cores)',
    'outside CPU (cores)',
    'steal',
    'flags',
  ];
  const rows = runsByRound.map(({ round, moduleName, run }) => [
    round,
    MODULE_LABEL[moduleName],
    ...workload.figures.map((figure) => formatNumber(run.values[figure.key])),
    run.cpu ? run.cpu.oursCores.toFixed(2) : 'n/a',
    run.cpu ? run.cpu.outsideCores.toFixed(2) : 'n/a',
    run.cpu ? `${(run.cpu.stealShare * 100).toFixed(1)}%` : 'n/a',
    [...run.flags, ...(run.error ? [run.error] : []), ...run.problems].join('; ') || 'clean',
  ]);
  return markdownTable(header, rows);
}

function machineLines(machine) {
  const load = (values) => (values ? values.map((value) => value.toFixed(2)).join(' ') : 'n/a');
  return [
    `- Date: ${machine.date}`,
    `- CPU: ${machine.cores} × ${machine.model}; memory ${machine.memoryGiB} GiB; ${machine.kernel}`,
    `- Load average (1, 5, 15 min) before: ${load(machine.loadAverageBefore)}; after: ${load(machine.loadAverageAfter)}`,
    `- Node ${machine.node}; rs-net commit ${machine.rsNetCommit}; wrk: ${machine.wrk ?? 'not installed'}`,
    `- net.core.somaxconn ${machine.somaxconn}; tcp_tw_reuse ${machine.tcpTwReuse}; ephemeral ports ${machine.portRange}; open files limit ${machine.openFileLimit}`,
  ];
}

/** The whole of bench/RESULTS.md. */
function resultsMarkdown({ results, machine, config, command, limits, runsByWorkload }) {
  const parts = [
    '# rs-net benchmark results',
    '',
    config.quick
      ? '**Quick smoke run: tiny windows and sizes; these numbers are noise, not measurements.**\n'
      : null,
    'Written by `bench/run.js`; see bench/README.md for what each workload does and how figures are computed.',
    '',
    `Serving one port from several workers (listener groups, reusePort, cluster) is in RESULTS-groups.md. ` +
      `This machine has ${machine.cores} cores, which the servers and their clients share, so how throughput ` +
      `scales with cores cannot be shown here; those rows measure what can be: balance, latency with a ` +
      `stalled worker, and CPU per connection.`,
    '',
    `Command: \`${command}\``,
    '',
    '## Machine',
    '',
    ...machineLines(machine),
    '',
    '## Medians',
    '',
    `Each workload ran ${config.rounds} round(s), alternating rs-net and node:net, each run in a fresh server process ` +
      `with the load from a separate process. A run is **disturbed** when CPU used outside the benchmark's own ` +
      `processes averaged more than ${limits.maxOutsideCores} cores over the run, or steal exceeded ` +
      `${(limits.maxSteal * 100).toFixed(0)}% of the machine's CPU time. Medians use only clean runs when both modules ` +
      `have some; otherwise they use every valid run and the row is marked ⚠ disturbed. Failed or invalid runs ` +
      `(a cross-check between load generator and server disagreed) never count.`,
    '',
    mediansTable(results),
    '',
    '## Every run',
    '',
  ].filter((part) => part !== null);
  for (const { workload, skipped } of results) {
    parts.push(`### ${workload.title}: ${workload.describe(config)}`, '');
    parts.push(skipped ? `Skipped: ${skipped}.` : runsTable(workload, runsByWorkload[workload.id]), '');
  }
  parts.push(
    '## Summary for the README',
    '',
    SUMMARY_START,
    summaryTable(results, machine, config),
    SUMMARY_END,
    '',
    '## Settings',
    '',
    '```json',
    JSON.stringify(config, null, 2),
    '```',
    '',
  );
  return parts.join('\n');
}

/** The summary section of an existing RESULTS.md, or null. */
function extractSummary(markdown) {
  const start = markdown.indexOf(SUMMARY_START);
  const end = markdown.indexOf(SUMMARY_END);
  if (start === -1 || end === -1) return null;
  return markdown.slice(start + SUMMARY_START.length, end).trim();
}

module.exports = {
  MODULES,
  MODULE_LABEL,
  extractSummary,
  flagsOf,
  formatNumber,
  mediansTable,
  resultsMarkdown,
  summarizeWorkload,
  summaryTable,
};
