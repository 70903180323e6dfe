/**
 * `npm run bench [-- --quick] [--json] [--no-write] [--only ID,ID]`: zmx
 * against tmux, screen, dtach, a bare pty and ssh, every measure's
 * contenders alternating round by round, on private servers that are ended
 * by pid. Writes docs/benchmarks.md and docs/benchmarks.png.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cleanup } from './lib/procs.js';
import { runMeasure, type Measure, type Options } from './lib/measure.js';
import { installPeers, peerVersions } from './lib/peers.js';
import { machineInfo, zmxCommands, zmxVersion } from './lib/machine.js';
import { jsonOf, markdown, type RunInfo } from './lib/report.js';
import { chartSvg, renderPng } from './lib/chart.js';
import { ROOT } from './lib/zmx.js';
import { echo } from './measures/echo.js';
import { throughput } from './measures/throughput.js';
import { reattach } from './measures/reattach.js';
import { memory } from './measures/memory.js';
import { load } from './measures/load.js';
import { portalReads } from './measures/portal-reads.js';
import { portalRtt } from './measures/portal-rtt.js';
import { copy } from './measures/copy.js';

/** Rounds of every measure: full run, and --quick (which must finish within two minutes). */
const ROUNDS = 5;
const ROUNDS_QUICK = 2;

const MEASURES: Measure[] = [echo, throughput, reattach, memory, load, portalReads, portalRtt, copy];

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const quick = argv.includes('--quick');
  const json = argv.includes('--json');
  const write = !argv.includes('--no-write');
  const onlyArg = argv.find((a) => a.startsWith('--only='))?.slice('--only='.length);
  const only = onlyArg ? new Set(onlyArg.split(',')) : null;
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
    const measures = [];
    for (const m of MEASURES) {
      if (only && !only.has(m.id)) continue;
      log(`bench: ${m.title}`);
      measures.push(await runMeasure(m, opts, root));
      if (interrupted) return 130;
    }
    const info: RunInfo = { date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), mode: quick ? 'quick' : 'full', rounds: opts.rounds, seconds: (Date.now() - started) / 1000, machine, versions, notes, measures };
    if (write) {
      const md = join(ROOT, 'docs', 'benchmarks.md');
      writeFileSync(md, markdown(info));
      writeFileSync(join(ROOT, 'docs', 'benchmarks.png'), renderPng(chartSvg(measures, `zmx vs peers (${info.mode} run, ${info.date})`)));
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
