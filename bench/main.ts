/**
 * `npm run bench [-- --quick] [--json] [--no-write] [--out=DIR] [--only=ID,ID]`: zmx
 * against tmux, screen, dtach, a bare pty, node and ssh, every measure's
 * contenders alternating round by round, on private servers that are ended
 * by pid. Writes docs/benchmarks.md (a summary against the goals, then
 * every measure) and docs/benchmarks.png (the goals chart), or the same
 * into DIR; whether the goals are met or not.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Cleanup } from './lib/procs.js';
import { runMeasure, type Measure, type MeasureResult, type Options } from './lib/measure.js';
import { installPeers, peerVersions } from './lib/peers.js';
import { machineInfo, zmxCommands, zmxVersion } from './lib/machine.js';
import { jsonOf, markdown, type RunInfo } from './lib/report.js';
import { chartSvg, renderPng } from './lib/chart.js';
import { BASELINE_PATH, goalRows, loadBaseline } from './lib/goals.js';
import { ROOT } from './lib/zmx.js';
import { cliCall } from './measures/cli-call.js';
import { echo } from './measures/echo.js';
import { hops } from './measures/hops.js';
import { throughput } from './measures/throughput.js';
import { reattach } from './measures/reattach.js';
import { memory } from './measures/memory.js';
import { load } from './measures/load.js';
import { portalReads } from './measures/portal-reads.js';
import { portalRtt } from './measures/portal-rtt.js';
import { copy } from './measures/copy.js';
import { mcp } from './measures/mcp.js';

/** Rounds of every measure: full run, and --quick (which must finish within two minutes). */
const ROUNDS = 5;
const ROUNDS_QUICK = 2;

/** In the order of the summary's rows. */
const MEASURES: Measure[] = [cliCall, echo, hops, throughput, reattach, memory, load, copy, portalReads, portalRtt, mcp];

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const quick = argv.includes('--quick');
  const json = argv.includes('--json');
  const write = !argv.includes('--no-write');
  // Another directory for the report (a trial run), instead of docs/.
  const outDir = resolve(argv.find((a) => a.startsWith('--out='))?.slice('--out='.length) ?? join(ROOT, 'docs'));
  const onlyArg = argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
  const only = onlyArg ? new Set(onlyArg.split(',')) : null;
  const unknown = only ? [...only].filter((id) => !MEASURES.some((m) => m.id === id)) : [];
  if (unknown.length > 0) {
    process.stderr.write(`bench: no measure ${unknown.join(', ')} (there are: ${MEASURES.map((m) => m.id).join(', ')})\n`);
    return 2;
  }
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const root = new Cleanup();
  let interrupted = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    log(`bench: ${sig}: ending every process and removing temp dirs`);
    void root.close().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const started = Date.now();
  try {
    const { missing, notes } = await installPeers();
    for (const n of notes) log(`bench: ${n}`);
    const opts: Options = { quick, rounds: quick ? ROUNDS_QUICK : ROUNDS, log, missing, zmxCommands: await zmxCommands() };
    const versions: Record<string, string> = { zmx: await zmxVersion(), ...(await peerVersions()) };
    for (const [name, why] of Object.entries(missing)) versions[name] = `not run: ${why}`;
    const machine = await machineInfo();
    const measures: MeasureResult[] = [];
    for (const m of MEASURES) {
      if (only && !only.has(m.id)) continue;
      log(`bench: ${m.title}`);
      measures.push(await runMeasure(m, opts, root));
      if (interrupted) return 130;
    }
    const baseline = loadBaseline();
    const goals = goalRows(MEASURES, measures, baseline);
    for (const id of Object.keys(baseline.rows)) if (!goals.some((g) => g.goal.id === id)) log(`bench: ${BASELINE_PATH} has a row "${id}" that no measure's goal names`);
    const info: RunInfo = { date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), mode: quick ? 'quick' : 'full', rounds: opts.rounds, seconds: (Date.now() - started) / 1000, machine, versions, notes, measures, goals, baselineSource: baseline.source };
    for (const g of goals.filter((x) => measures.some((m) => m.goals.includes(x.goal)))) log(`bench: ${g.verdict}: ${g.goal.id}${g.ofGoal !== undefined ? ` (${g.ofGoal.toFixed(2)}× the goal)` : g.why ? ` (${g.why})` : ''}`);
    if (write) {
      mkdirSync(outDir, { recursive: true });
      const md = join(outDir, 'benchmarks.md');
      writeFileSync(md, markdown(info));
      writeFileSync(join(outDir, 'benchmarks.png'), renderPng(chartSvg(goals, `zmx against its goals (${info.mode} run, ${info.date})`)));
      log(`bench: wrote ${md} and benchmarks.png (${info.seconds.toFixed(0)} s)`);
    }
    if (json) process.stdout.write(JSON.stringify(jsonOf(info), null, 2) + '\n');
    return 0;
  } finally {
    for (const e of await root.close()) log(`bench: cleanup: ${e}`);
  }
}

main().then((code) => process.exit(code), (err) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
