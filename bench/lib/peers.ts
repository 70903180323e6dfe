/**
 * The other terminal tools, each private to the run: tmux on its own socket
 * and config, screen with its own SCREENDIR and rc, dtach on a socket in a
 * temp dir. Missing ones are installed from Debian packages when possible.
 */
import { existsSync, mkdirSync, chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cleanup, pidsMatching, pssKiB, rssKiB, run, runOk, stopPids, tempDir, until } from './procs.js';
import { BENCH_HISTORY_LINES, baseEnv } from './zmx.js';

/** Each peer: the executable looked for, and the Debian package providing it. */
export const PEERS = {
  tmux: { bin: 'tmux', pkg: 'tmux' },
  screen: { bin: 'screen', pkg: 'screen' },
  dtach: { bin: 'dtach', pkg: 'dtach' },
  sshd: { bin: '/usr/sbin/sshd', pkg: 'openssh-server' },
  ssh: { bin: 'ssh', pkg: 'openssh-client' },
  scp: { bin: 'scp', pkg: 'openssh-client' },
  script: { bin: 'script', pkg: 'bsdutils' },
} as const;
export type PeerName = keyof typeof PEERS;

async function have(bin: string): Promise<boolean> {
  if (bin.startsWith('/')) return existsSync(bin);
  return (await run('sh', ['-c', `command -v ${bin}`])).status === 0;
}

/**
 * Installs the packages of missing peers with apt-get (directly as root,
 * else through `sudo -n`). Returns notes for the report; never throws.
 */
export async function installPeers(): Promise<{ missing: Record<string, string>; notes: string[] }> {
  const notes: string[] = [];
  const missingPkgs = new Set<string>();
  for (const p of Object.values(PEERS)) if (!(await have(p.bin))) missingPkgs.add(p.pkg);
  if (missingPkgs.size > 0) {
    const pkgs = [...missingPkgs];
    const root = process.getuid?.() === 0;
    const apt = (args: string[]) => (root ? run('apt-get', args, { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, timeoutMs: 600_000 }) : run('sudo', ['-n', 'env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', ...args], { timeoutMs: 600_000 }));
    let r = await apt(['install', '-y', '-qq', ...pkgs]);
    if (r.status !== 0) {
      await apt(['update', '-qq']);
      r = await apt(['install', '-y', '-qq', ...pkgs]);
    }
    notes.push(r.status === 0 ? `installed ${pkgs.join(', ')} with apt-get` : `could not install ${pkgs.join(', ')} (apt-get${root ? '' : ' via sudo'} failed: ${(r.stderr.trim().split('\n').pop() ?? '').slice(0, 160)})`);
  }
  const missing: Record<string, string> = {};
  for (const [name, p] of Object.entries(PEERS)) if (!(await have(p.bin))) missing[name] = `${p.bin} not installed (package ${p.pkg})`;
  return { missing, notes };
}

/** Version strings of each tool (as their packages and themselves report). */
export async function peerVersions(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const first = async (file: string, args: string[]) => {
    const r = await run(file, args);
    return (r.stdout + r.stderr).trim().split('\n')[0] ?? '';
  };
  if (await have('tmux')) out['tmux'] = await first('tmux', ['-V']);
  if (await have('screen')) out['screen'] = (await first('screen', ['-v'])).replace(/\s+\(GNU\).*/, '');
  if (await have('dtach')) out['dtach'] = await first('dtach', ['--help']);
  if (await have('ssh')) out['ssh'] = await first('ssh', ['-V']);
  if (await have('/usr/sbin/sshd')) out['sshd'] = (await first('dpkg-query', ['-W', '-f', '${Package} ${Version}', 'openssh-server'])) || 'openssh-server';
  if (await have('script')) out['script'] = await first('script', ['--version']);
  out['python3'] = await first('python3', ['--version']);
  return out;
}

// ------------------------------------------------------------------- tmux

export class Tmux {
  readonly dir: string;
  readonly socket: string;
  readonly env: NodeJS.ProcessEnv;
  private readonly conf: string;
  private serverPid: number | null = null;

  /** `historyLimit`: lines of history each pane keeps (tmux's history-limit). */
  constructor(cleanup: Cleanup, historyLimit = BENCH_HISTORY_LINES) {
    this.dir = tempDir(cleanup, 'zb-tmux-');
    this.socket = join(this.dir, 'sock');
    this.conf = join(this.dir, 'tmux.conf');
    mkdirSync(join(this.dir, 'home'));
    this.env = baseEnv(join(this.dir, 'home'));
    delete this.env['TMUX'];
    writeFileSync(this.conf, `set -g history-limit ${historyLimit}\nset -g default-terminal screen-256color\n`);
    cleanup.defer('tmux kill-server', () => this.stop());
  }

  /** tmux arguments selecting this private server. */
  args(...rest: string[]): string[] {
    return ['-S', this.socket, '-f', this.conf, ...rest];
  }

  tmux(...rest: string[]): Promise<string> {
    return runOk('tmux', this.args(...rest), { env: this.env, cwd: this.dir });
  }

  /** A detached session running `command` (a shell command line). */
  async newSession(name: string, command: string): Promise<void> {
    await this.tmux('new-session', '-d', '-s', name, '-x', '80', '-y', '24', command);
    this.serverPid ??= Number((await this.tmux('display-message', '-p', '#{pid}')).trim());
  }

  /** Many sessions in one tmux invocation (commands joined by `;`). */
  async newSessions(names: string[], command: string): Promise<void> {
    const args: string[] = [];
    for (const n of names) args.push('new-session', '-d', '-s', n, '-x', '80', '-y', '24', command, ';');
    await this.tmux(...args.slice(0, -1));
    this.serverPid ??= Number((await this.tmux('display-message', '-p', '#{pid}')).trim());
  }

  /** The client command an outer pty runs to attach. */
  attachArgv(name: string): [string, string[]] {
    return ['tmux', this.args('attach-session', '-t', name)];
  }

  /** Resident (VmRSS) and proportional (Pss) memory of the server, KiB. */
  memKiB(): { rss: number; pss: number } {
    return this.serverPid ? { rss: rssKiB(this.serverPid), pss: pssKiB(this.serverPid) } : { rss: 0, pss: 0 };
  }

  /** Is `text` on the screen of session `name`? */
  async screenHas(name: string, text: string): Promise<boolean> {
    return (await this.tmux('capture-pane', '-p', '-t', name)).includes(text);
  }

  async stop(): Promise<void> {
    if (existsSync(this.socket)) await run('tmux', this.args('kill-server'), { env: this.env });
    if (this.serverPid) await stopPids([this.serverPid]);
    this.serverPid = null;
  }
}

// ----------------------------------------------------------------- screen

export class Screen {
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;
  private readonly rc: string;
  private readonly names = new Set<string>();

  constructor(cleanup: Cleanup) {
    this.dir = tempDir(cleanup, 'zb-screen-');
    const screenDir = join(this.dir, 'S');
    mkdirSync(screenDir);
    chmodSync(screenDir, 0o700);
    mkdirSync(join(this.dir, 'home'));
    this.rc = join(this.dir, 'screenrc');
    writeFileSync(this.rc, `defscrollback ${BENCH_HISTORY_LINES}\nstartup_message off\nvbell off\n`);
    this.env = { ...baseEnv(join(this.dir, 'home')), SCREENDIR: screenDir };
    cleanup.defer('screen quit', () => this.stop());
  }

  /** A detached session running `command` through sh. */
  async newSession(name: string, command: string): Promise<void> {
    await runOk('screen', ['-c', this.rc, '-dmS', name, 'sh', '-c', command], { env: this.env, cwd: this.dir });
    this.names.add(name);
    await until(async () => (await run('screen', ['-ls', name], { env: this.env })).stdout.includes(`.${name}\t`), `screen session ${name}`);
  }

  attachArgv(name: string): [string, string[]] {
    return ['screen', ['-c', this.rc, '-r', name]];
  }

  async stop(): Promise<void> {
    for (const n of this.names) await run('screen', ['-S', n, '-X', 'quit'], { env: this.env });
    this.names.clear();
    // Any SCREEN process still serving a socket in our SCREENDIR, by pid.
    await stopPids(pidsMatching('SCREEN', this.rc));
  }
}

// ------------------------------------------------------------------ dtach

export class Dtach {
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;
  private readonly sockets = new Set<string>();

  constructor(cleanup: Cleanup) {
    this.dir = tempDir(cleanup, 'zb-dtach-');
    mkdirSync(join(this.dir, 'home'));
    this.env = baseEnv(join(this.dir, 'home'));
    cleanup.defer('dtach masters', () => this.stop());
  }

  socket(name: string): string {
    return join(this.dir, `${name}.sock`);
  }

  async newSession(name: string, command: string): Promise<void> {
    const sock = this.socket(name);
    await runOk('dtach', ['-n', sock, '-E', 'sh', '-c', command], { env: this.env, cwd: this.dir });
    this.sockets.add(sock);
  }

  attachArgv(name: string): [string, string[]] {
    return ['dtach', ['-a', this.socket(name), '-E', '-z']];
  }

  async stop(): Promise<void> {
    // dtach writes no pid file: its master is the process holding our socket path on its command line.
    for (const s of this.sockets) await stopPids(pidsMatching('dtach', s));
    this.sockets.clear();
  }
}
