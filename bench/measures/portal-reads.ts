/**
 * An agent's file workload on this machine — read 20 source
 * files and run a small command (`ls`), getting each result — done locally,
 * over ssh (one ControlMaster connection) and through zmx's portal.
 */
import { readFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import type { Contender, Measure, Options } from '../lib/measure.js';
import { Cleanup, hrms } from '../lib/procs.js';
import { FILE_COUNT, PortalClient, cliExec, cliRead, makeWorld, zmxCliMissing, type World } from '../lib/portal.js';

/** Times the workload runs per round (its median is the round's value): a round is quick. */
export const REPEATS = 5;
export const REPEATS_QUICK = 1;
/** The CLI contender (a process per call) stops repeating once a round has taken this long; it runs at least once. */
const CLI_ROUND_BUDGET_MS = 15_000;

function execLs(dir: string): Promise<string> {
  return new Promise((resolve, reject) => execFile('ls', [dir], (err, out) => (err ? reject(err) : resolve(out))));
}

/** Median wall time of `repeats` runs of `work` (fewer once `budgetMs` has passed, at least one), ms. */
export async function timeIt(work: () => Promise<unknown>, repeats: number, budgetMs = Infinity): Promise<number> {
  const times: number[] = [];
  const stopAt = hrms() + budgetMs;
  for (let i = 0; i < repeats && (i === 0 || hrms() < stopAt); i++) {
    const t0 = hrms();
    await work();
    times.push(hrms() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

const SSH_EACH_NAME = `ssh, ${FILE_COUNT} cat + ls (ControlMaster)`;
const CLI_NAME = `zmx fs read ×${FILE_COUNT} + zmx exec ls (CLI)`;

/** The ssh and zmx contenders of a world reached at `sshHost` / `zmx` endpoint; shared by measures 6 and 7. */
export function portalContenders(opts: Options, world: () => Promise<World>, via: { sshHost: (w: World) => Promise<string>; zmxEndpoint: ((w: World, c: Cleanup) => Promise<PortalClient>); zmxCliHost: ((w: World) => Promise<string | undefined>); cliInQuick: boolean }): Contender[] {
  const cliSkip = zmxCliMissing(opts.zmxCommands, 'exec', 'fs');
  // 21 processes over a slow link take long (each pays the round trips of its own connection): the full bench runs them.
  const cliQuickSkip = opts.quick && !via.cliInQuick ? `not run: --quick (a zmx process per call, ${FILE_COUNT + 1} per run, does not fit in two minutes here; the full bench runs it)` : undefined;
  const repeats = opts.quick ? REPEATS_QUICK : REPEATS;
  const sshSkip = opts.missing['sshd'] ?? opts.missing['ssh'];
  let w: World;
  let host = '';
  let portal: PortalClient;
  let cliHost: string | undefined;
  // Set up once for the contenders sharing them.
  let sshReady: Promise<string> | null = null;
  let portalReady: Promise<PortalClient> | null = null;
  const sshSetup = async () => {
    w = await world();
    if (!w.sshd) throw new Error(`sshd: ${w.sshdError}`);
    host = await (sshReady ??= via.sshHost(w));
  };
  const portalSetup = async (cleanup: Cleanup) => {
    w = await world();
    portal = await (portalReady ??= via.zmxEndpoint(w, cleanup).then(async (p) => { await p.check(); return p; }));
  };
  const abs = (f: string) => join(w.root, f);
  return [
    {
      name: SSH_EACH_NAME, zmx: false, skip: sshSkip && `not run: ${sshSkip}`,
      setup: sshSetup,
      async sample() {
        return { ms: await timeIt(async () => { for (const f of w.files) await w.sshd!.ssh(host, `cat ${abs(f)}`); await w.sshd!.ssh(host, `ls ${w.root}`); }, repeats) };
      },
    },
    {
      name: 'ssh, one command (ControlMaster)', zmx: false, skip: sshSkip && `not run: ${sshSkip}`,
      setup: sshSetup,
      async sample() {
        return { ms: await timeIt(() => w.sshd!.ssh(host, `cat ${w.files.map(abs).join(' ')} && ls ${w.root}`), repeats) };
      },
    },
    {
      name: CLI_NAME, zmx: true, skip: cliSkip ?? cliQuickSkip,
      async setup() { w = await world(); cliHost = await via.zmxCliHost(w); },
      async sample() {
        return { ms: await timeIt(async () => { for (const f of w.files) await cliRead(w, f, cliHost); await cliExec(w, ['ls'], cliHost); }, repeats, CLI_ROUND_BUDGET_MS) };
      },
    },
    {
      name: `zmx portal client, ${FILE_COUNT} fs.read + exec`, zmx: true, skip: cliSkip,
      setup: portalSetup,
      async sample() {
        return { ms: await timeIt(async () => { for (const f of w.files) await portal.read(f); await portal.exec(['ls']); }, repeats) };
      },
    },
    {
      name: 'zmx portal client, fs.readFiles ∥ exec', zmx: true, skip: cliSkip,
      setup: portalSetup,
      async sample() {
        return { ms: await timeIt(() => Promise.all([portal.readFiles(w.files), portal.exec(['ls'])]), repeats) };
      },
    },
  ];
}

export const portalReads: Measure = {
  id: 'portal-local',
  title: 'Agent file workload, this machine',
  how: `Read ${FILE_COUNT} source files of this project (copied into the session's root) and run \`ls\` there, getting every result. "local" is plain fs.readFile and child_process.execFile in the bench. ssh goes to a throwaway sshd on 127.0.0.1 (its own host and user keys, made for the run) through one ControlMaster connection opened before timing (sshd sets SHLVL=1 so the remote bash does not source the user's ~/.bashrc for every command — on the machine measured, root's pyenv init costs ~100 ms a command): ${FILE_COUNT}+1 \`ssh host cat FILE\`/\`ls\` commands, or one \`ssh host 'cat FILES && ls'\`. zmx goes to a session on the local server: the CLI (\`zmx fs read\` per file, \`zmx exec -- ls\`: a process per call, as ssh), and an in-process client as an agent's MCP tools use it (one request per file, or one fs.readFiles while exec runs). A round's value is the median of ${REPEATS} runs (--quick: ${REPEATS_QUICK}); the CLI contender stops repeating once a round has taken ${CLI_ROUND_BUDGET_MS / 1000} s (it runs at least once).`,
  metrics: [{ key: 'ms', label: 'workload', unit: 'ms' }],
  goals: [{ id: 'portal-cli', short: 'portal CLI call (20 fs read + exec ls), per call', what: `${FILE_COUNT + 1} portal CLI calls (${FILE_COUNT} \`zmx fs read\` + \`zmx exec ls\`), per call; vs ssh through a ControlMaster`, metric: 'ms', zmx: CLI_NAME, peer: SSH_EACH_NAME, per: FILE_COUNT + 1, unit: 'ms/call', max: 30 }],
  contenders(opts) {
    let world: Promise<World> | null = null;
    let cleanup: Cleanup;
    const get = () => (world ??= makeWorld(cleanup, !opts.missing['sshd']));
    const local: Contender = {
      name: 'local (fs + child_process)', zmx: false,
      async setup(c) { cleanup = c; await get(); },
      async sample() {
        const w = await get();
        return { ms: await timeIt(async () => { for (const f of w.files) await readFile(join(w.root, f)); await execLs(w.root); }, opts.quick ? REPEATS_QUICK : REPEATS) };
      },
    };
    return [local, ...portalContenders(opts, get, {
      sshHost: async (w) => { await w.sshd!.master('bench'); return 'bench'; },
      zmxEndpoint: async (w) => PortalClient.local(w),
      zmxCliHost: async () => undefined,
      cliInQuick: true,
    })];
  },
};
