/** The machine and zmx build a run measured, for the report. */
import { readFileSync } from 'node:fs';
import { cpus, release, totalmem, loadavg } from 'node:os';
import { run } from './procs.js';
import { ZMX_BIN, ZMX_ROOT } from './zmx.js';

export async function machineInfo(): Promise<Record<string, string>> {
  let model = cpus()[0]?.model ?? 'unknown';
  try { model = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? model; } catch { /* not Linux */ }
  return {
    CPU: model,
    cores: String(cpus().length),
    RAM: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    kernel: `Linux ${release()}`,
    Node: process.version,
    'load average at start': loadavg().map((l) => l.toFixed(2)).join(' '),
  };
}

export async function zmxVersion(): Promise<string> {
  const fields = Object.fromEntries((await run(ZMX_BIN, ['version'])).stdout.trim().split('\n').map((l) => l.split(/\t+/) as [string, string]));
  const v = `zmx ${fields['zmx'] ?? '?'} (protocol ${fields['protocol'] ?? '?'})`;
  const commit = (await run('git', ['-C', ZMX_ROOT, 'rev-parse', '--short', 'HEAD'])).stdout.trim();
  const dirty = (await run('git', ['-C', ZMX_ROOT, 'status', '--porcelain', '--untracked-files=no'])).stdout.trim() ? ' (with uncommitted changes)' : '';
  return `${v}${commit ? `, commit ${commit}${dirty}` : ''}${process.env['ZMX_BENCH_BIN'] ? ` (ZMX_BENCH_BIN=${ZMX_BIN})` : ''}`;
}

/** The command names `zmx help` lists (the portal's `exec`, `fs`, `cp` may not exist yet). */
export async function zmxCommands(): Promise<Set<string>> {
  const r = await run(ZMX_BIN, ['help']);
  const names = new Set<string>();
  for (const line of (r.stdout + r.stderr).split('\n')) {
    const m = /^\s{2,}([a-z][a-z|-]*)\s/.exec(line);
    if (m) for (const n of m[1]!.split('|')) names.add(n);
  }
  return names;
}
