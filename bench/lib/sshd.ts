/**
 * A throwaway sshd on 127.0.0.1 for the portal measures: run as the current
 * user with a host key and a user key generated for this run only, its
 * config, pid file and keys in a temp dir; and an ssh client config whose
 * ControlMaster keeps one connection for all commands. Ended by pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { Cleanup, freePort, readPidFile, run, runOk, stopPids, tempDir, until } from './procs.js';

const SSHD = '/usr/sbin/sshd';
/** sshd refuses to start as root without its privilege-separation dir. */
const PRIVSEP_DIR = '/run/sshd';

export class Sshd {
  readonly dir: string;
  readonly port: number;
  readonly config: string;
  private readonly masters: ChildProcess[] = [];

  private constructor(readonly cleanup: Cleanup, dir: string, port: number) {
    this.dir = dir;
    this.port = port;
    this.config = join(dir, 'ssh_config');
  }

  static async start(cleanup: Cleanup): Promise<Sshd> {
    const dir = tempDir(cleanup, 'zb-ssh-');
    const port = await freePort();
    const self = new Sshd(cleanup, dir, port);
    await runOk('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bench-host', '-f', join(dir, 'host_ed25519')]);
    await runOk('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bench-user', '-f', join(dir, 'id_ed25519')]);
    writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'id_ed25519.pub')));
    const hostPub = readFileSync(join(dir, 'host_ed25519.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ');
    writeFileSync(join(dir, 'known_hosts'), `bench-sshd ${hostPub}\n`);
    writeFileSync(join(dir, 'sshd_config'), [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(dir, 'host_ed25519')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      'StrictModes no',
      'UsePAM no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'PermitRootLogin prohibit-password',
      'Subsystem sftp internal-sftp',
      // bash sources ~/.bashrc for a command sshd runs (it sees SSH_CLIENT) unless SHLVL says it is nested:
      // the user's rc (e.g. pyenv init, 100 ms here) is not what the measure is about.
      'SetEnv SHLVL=1',
      'LogLevel ERROR',
      '',
    ].join('\n'));
    if (process.getuid?.() === 0 && !existsSync(PRIVSEP_DIR)) {
      mkdirSync(PRIVSEP_DIR, { mode: 0o755 });
      cleanup.defer(`rmdir ${PRIVSEP_DIR}`, () => rmdirSync(PRIVSEP_DIR));
    }
    const daemon = spawn(SSHD, ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    daemon.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    cleanup.defer('sshd', () => stopPids([daemon.pid!, readPidFile(join(dir, 'sshd.pid')) ?? 0].filter((p) => p > 0)));
    await until(() => daemon.exitCode !== null || existsSync(join(dir, 'sshd.pid')), 'sshd to start', 10_000);
    if (daemon.exitCode !== null) throw new Error(`sshd exited: ${err.trim().split('\n').pop()}`);
    self.addHost('bench', port);
    return self;
  }

  /** A Host entry reaching this sshd at `port` (itself or a proxy in front), with its own master connection. */
  addHost(name: string, port: number): void {
    const prev = existsSync(this.config) ? readFileSync(this.config, 'utf8') : '';
    writeFileSync(this.config, prev + [
      `Host ${name}`,
      '  HostName 127.0.0.1',
      `  Port ${port}`,
      `  User ${userInfo().username}`,
      `  IdentityFile ${join(this.dir, 'id_ed25519')}`,
      '  IdentitiesOnly yes',
      '  HostKeyAlias bench-sshd',
      `  UserKnownHostsFile ${join(this.dir, 'known_hosts')}`,
      '  StrictHostKeyChecking yes',
      '  BatchMode yes',
      // Commands use the master master() opened (a child ended by pid); none becomes a master that daemonizes itself.
      '  ControlMaster no',
      `  ControlPath ${join(this.dir, `cm-${name}`)}`,
      '  ControlPersist no',
      '  LogLevel ERROR',
      '',
    ].join('\n'));
  }

  /** Opens the master connection to `host` (a child ended by pid at cleanup) and waits until it serves. */
  async master(host: string): Promise<void> {
    const m = spawn('ssh', ['-F', this.config, '-M', '-N', host], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.masters.push(m);
    this.cleanup.defer(`ssh master ${host}`, async () => {
      await run('ssh', ['-F', this.config, '-O', 'exit', host]);
      await stopPids([m.pid!]);
    });
    await until(async () => {
      if (m.exitCode !== null) throw new Error(`ssh master to ${host} exited (${m.exitCode})`);
      return (await run('ssh', ['-F', this.config, '-O', 'check', host])).status === 0;
    }, `ssh master to ${host}`, 15_000);
  }

  /** `command` on `host`: through its master when one is open, or (`fresh`) on a connection of its own, as a user's first ssh. */
  ssh(host: string, command: string, opts: { fresh?: boolean } = {}): Promise<string> {
    return runOk('ssh', ['-F', this.config, ...(opts.fresh ? ['-o', 'ControlPath=none'] : []), host, command]);
  }

  /** `scp` through the same config (OpenSSH 9 speaks SFTP under scp). */
  scp(from: string, to: string): Promise<string> {
    // A connection of its own, as a user's scp: no master.
    return runOk('scp', ['-q', '-F', this.config, '-o', 'ControlPath=none', from, to], { timeoutMs: 600_000 });
  }
}
