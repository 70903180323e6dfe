/**
 * The command line's face: --help/-h on every command and subcommand (a
 * Usage: line, no side effect), zmx help, version, completions, one-line
 * errors on stderr with a non-zero status, and `keys show` (public keys
 * only; secret keys never leave keys/*.key).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { COMMANDS } from '../../src/cli/table.js';
import { ownsShortHelp, type CommandSpec } from '../../src/cli/command.js';
import { VERSION } from '../../src/common/version.js';
import { z85Decode } from '../../src/common/z85.js';
import { ZMX_BIN, type RunResult } from '../helpers/harness.js';
import { sandbox, assertOk, assertOneLineError } from '../helpers/assert.js';
import { zmxBatch } from '../helpers/cli-batch.js';

/** Every way to name a command on the command line: `list`, `ls`, `l`, `keys`, `keys show`... */
function invocationsOf(spec: CommandSpec): { words: string[]; spec: CommandSpec }[] {
  const out: { words: string[]; spec: CommandSpec }[] = [];
  for (const name of [spec.name, ...spec.aliases]) {
    out.push({ words: [name], spec });
    for (const sub of spec.subcommands ?? []) {
      for (const subName of [sub.name, ...sub.aliases]) out.push({ words: [name, subName], spec: sub });
    }
  }
  return out;
}

const Z85_KEY = /^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/;

/** The flags that ask `target` for help: both on its own name (unless -h is one of its options, as split's is in tmux), --help on its aliases. */
function helpFlags(target: CommandSpec, ownName: boolean): string[] {
  return ownName && !ownsShortHelp(target) ? ['--help', '-h'] : ['--help'];
}

/** Commands whose help also goes through the real executable, to show the batch prints what `zmx` prints. */
const THROUGH_THE_EXECUTABLE = ['new', 'list', 'split', 'keys'];
/** Error cases of each list that also go through the executable. */
const ERROR_SAMPLE = 4;

describe('help, version, completions, errors, keys', { concurrency: 4 }, () => {
  test('zmx CMD --help and -h for every command, alias and subcommand, and zmx help CMD: Usage line, exit 0, no side effect', async (t) => {
    const sb = sandbox(t);
    const calls: { what: string; argv: string[]; target: CommandSpec }[] = [];
    for (const spec of COMMANDS) {
      for (const { words, spec: target } of invocationsOf(spec)) {
        for (const flag of helpFlags(target, words[0] === spec.name)) calls.push({ what: `zmx ${words.join(' ')} ${flag}`, argv: [...words, flag], target });
      }
      calls.push({ what: `zmx help ${spec.name}`, argv: ['help', spec.name], target: spec });
    }
    // Several hundred command lines: run in one process (test/helpers/cli-batch.ts).
    const results = await zmxBatch(calls.map((c) => c.argv), sb.env);
    const printed = new Map<string, string>();
    calls.forEach(({ what, target }, i) => {
      const r = results[i]!;
      printed.set(what, r.stdout);
      assertOk(r, what);
      assert.match(r.stdout, /^Usage: /m, `${what} prints a Usage: line`);
      assert.ok(r.stdout.includes(target.name), `${what} names the command`);
      assert.equal(r.stderr, '', `${what} prints nothing on stderr`);
    });
    for (const spec of COMMANDS) {
      assert.equal(printed.get(`zmx help ${spec.name}`), printed.get(`zmx ${spec.name} --help`), `zmx help ${spec.name} is zmx ${spec.name} --help`);
    }
    for (const name of THROUGH_THE_EXECUTABLE) {
      const spec = COMMANDS.find((c) => c.name === name)!;
      for (const flag of helpFlags(spec, true)) {
        const r = await sb.zmx([name, flag]);
        assertOk(r, `zmx ${name} ${flag}`);
        assert.equal(r.stdout, printed.get(`zmx ${name} ${flag}`), `the executable's zmx ${name} ${flag} is the batch's`);
      }
    }
    assert.equal(existsSync(join(sb.dir, 'front.pid')), false, 'no server was started');
    assert.equal(existsSync(sb.dir), false, 'ZMX_DIR was not even created');
    assert.equal(existsSync(sb.configDir), false, 'the config directory was not created (no keys made)');
  });

  test('zmx help (and -h, --help) lists every command and subcommand', async (t) => {
    const sb = sandbox(t);
    const r = await sb.zmx(['help']);
    assertOk(r, 'zmx help');
    assert.match(r.stdout, /^Usage: zmx/m);
    for (const spec of COMMANDS) {
      const names = spec.subcommands ? spec.subcommands.map((s) => `${spec.name} ${s.name}`) : [spec.name];
      for (const name of names) {
        assert.match(r.stdout, new RegExp(`^ +${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\||\\s)`, 'm'), `zmx help lists ${name}`);
      }
    }
    for (const flag of ['-h', '--help', 'h']) {
      const alt = await sb.zmx([flag]);
      assertOk(alt, `zmx ${flag}`);
      assert.equal(alt.stdout, r.stdout, `zmx ${flag} is zmx help`);
    }
    assert.equal(existsSync(sb.dir), false, 'no side effect');
  });

  test('zmx version prints the version and socket_dir', async (t) => {
    const sb = sandbox(t);
    const r = await sb.zmx(['version']);
    assertOk(r, 'version');
    assert.match(r.stdout, new RegExp(`^zmx\\t+${VERSION.replace(/\./g, '\\.')}$`, 'm'));
    assert.match(r.stdout, new RegExp(`^socket_dir\\t+${sb.dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
    for (const alias of ['v', '-v', '--version']) {
      assert.equal((await sb.zmx([alias])).stdout, r.stdout, `zmx ${alias}`);
    }
    assert.equal(existsSync(join(sb.dir, 'front.pid')), false, 'version starts no server');
  });

  test('zmx completions bash is valid bash and completes commands and session names', async (t) => {
    const sb = sandbox(t);
    const r = await sb.zmx(['completions', 'bash']);
    assertOk(r, 'completions bash');
    const check = spawnSync('bash', ['-n'], { input: r.stdout, encoding: 'utf8' });
    assert.equal(check.status, 0, `bash -n rejects the script: ${check.stderr}`);
    for (const spec of COMMANDS) assert.ok(r.stdout.includes(spec.name), `bash completion knows ${spec.name}`);
    // Use it: a zmx on PATH, one session, then ask for completions.
    const bin = join(sb.base, 'bin');
    mkdirSync(bin);
    symlinkSync(ZMX_BIN, join(bin, 'zmx'));
    assertOk(await sb.zmx(['new', '-s', 'comp-session', '-d']), 'new');
    const script = join(sb.base, 'zmx.bash');
    writeFileSync(script, r.stdout);
    const complete = (words: string[], cword: number) => spawnSync('bash', ['-c', `source ${script}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${cword}; _zmx; printf '%s\\n' "\${COMPREPLY[@]}"`], {
      env: { ...sb.env, PATH: `${bin}:${sb.env['PATH']}` }, encoding: 'utf8',
    });
    const cmds = complete(['zmx', 'ki'], 1);
    assert.equal(cmds.status, 0, cmds.stderr);
    assert.ok(cmds.stdout.split('\n').includes('kill'), `completes "ki" to kill: ${cmds.stdout}`);
    const sessions = complete(['zmx', 'kill', 'comp'], 2);
    assert.ok(sessions.stdout.split('\n').includes('comp-session'), `completes session names: ${sessions.stdout}`);
  });

  test('zmx completions zsh and fish print scripts; an unknown shell is an error', async (t) => {
    const sb = sandbox(t);
    for (const shell of ['zsh', 'fish']) {
      const r = await sb.zmx(['completions', shell]);
      assertOk(r, `completions ${shell}`);
      assert.ok(r.stdout.trim().length > 0, `${shell} script is not empty`);
      assert.match(r.stdout, /zmx/);
      for (const spec of COMMANDS) assert.ok(r.stdout.includes(spec.name), `${shell} completion knows ${spec.name}`);
      const checker = spawnSync(shell, ['-n'], { input: r.stdout, encoding: 'utf8' });
      if (!checker.error) assert.equal(checker.status, 0, `${shell} -n rejects the script: ${checker.stderr}`);
    }
    assert.match((await sb.zmx(['completions', 'zsh'])).stdout, /compdef zmx/);
    assert.match((await sb.zmx(['completions', 'fish'])).stdout, /complete -c zmx/);
    assertOneLineError(await sb.zmx(['completions', 'tcsh']), 'completions tcsh', undefined, true);
    assertOneLineError(await sb.zmx(['completions']), 'completions without a shell', undefined, true);
  });

  test('an unknown command is one line on stderr and a non-zero status', async (t) => {
    const sb = sandbox(t);
    const r = await sb.zmx(['frobnicate']);
    assertOneLineError(r, 'zmx frobnicate', undefined, true);
    assert.match(r.stderr, /frobnicate/);
    assertOneLineError(await sb.zmx(['help', 'frobnicate']), 'zmx help frobnicate', undefined, true);
    assert.equal(existsSync(join(sb.dir, 'front.pid')), false);
  });

  test('every error is one line on stderr with a non-zero status', async (t) => {
    const sb = sandbox(t);
    const noServer: string[][] = [
      ['run'], ['kill'], ['send'], ['print'], ['write'], ['write', 'x'], ['get'], ['set'], ['set', 'x'], ['unset', 'x'], ['clear'],
      ['wait'], ['tail'], ['history'], ['detach'], ['new'], ['new', '-d'],
      ['ls', '--bogus'], ['run', 'x'], ['kill', 'ghost'], ['send', 'ghost', 'x'], ['print', 'ghost', 'x'],
      ['get', 'ghost'], ['set', 'ghost', 'a=b'], ['unset', 'ghost', 'a'], ['clear', 'ghost'], ['history', 'ghost'],
      ['tail', 'ghost'], ['wait', 'ghost'], ['detach', 'ghost'], ['get', '.'],
      ['new', '-s', 'bad name', '-d'], ['new', '-s', 'a/b', '-d'], ['attach', 'x'],
      ['keys', 'show', '--client', '--server'], ['keys', 'nope'], ['completions', 'nu'],
    ];
    // In one process (test/helpers/cli-batch.ts), and a sample through the executable too.
    const check = async (calls: string[][], label: string) => {
      const results = await zmxBatch(calls, sb.env);
      calls.forEach((args, i) => assertOneLineError(results[i]!, `zmx ${args.join(' ')}${label}`, undefined, true));
      for (const [i, args] of calls.slice(0, ERROR_SAMPLE).entries()) {
        const r = await sb.zmx(args, { input: '' });
        assertOneLineError(r, `zmx ${args.join(' ')}${label}, the executable`, undefined, true);
        assert.equal(r.stderr, results[i]!.stderr, `zmx ${args.join(' ')}${label}: the executable prints what the batch does`);
      }
    };
    await check(noServer, ' (no server)');
    // With a server and a session.
    assertOk(await sb.zmx(['new', '-s', 'dev', '-d']), 'new');
    const withServer: string[][] = [
      ['new', '-s', 'dev', '-d'], ['set', 'dev', 'name=x'], ['set', 'dev', 'k!=v'], ['get', 'dev', 'nokey'],
      ['kill', 'ghost'], ['history', 'dev', '--vt', '--html'], ['history', 'ghost'], ['send', 'ghost', 'x'],
      ['print', 'ghost', 'x'], ['run', 'dev'], ['write', 'dev', '/nonexistent-dir/sub/file'], ['tail', 'ghost'],
      ['wait', 'ghost'], ['unset', 'dev', 'name'], ['attach', 'dev'], ['new', '-s', 'x', '-d', '-c', '/nonexistent-dir'],
    ];
    await check(withServer, '');
  });

  test('keys show --client/--server print a Z85 public key alone; secrets stay in keys/*.key (0600)', async (t) => {
    const sb = sandbox(t);
    const outputs: RunResult[] = [];
    const client = await sb.zmx(['keys', 'show', '--client']);
    outputs.push(client);
    assertOk(client, 'keys show --client');
    assert.match(client.stdout, /^[^\n]{40}\n$/, 'one line of 40 characters');
    assert.match(client.stdout.trim(), Z85_KEY);
    const server = await sb.zmx(['keys', 'show', '--server']);
    outputs.push(server);
    assertOk(server, 'keys show --server');
    assert.match(server.stdout.trim(), Z85_KEY);
    assert.notEqual(server.stdout, client.stdout);
    const again = await sb.zmx(['keys', 'show']);
    outputs.push(again);
    assert.equal(again.stdout, client.stdout, 'the default is the client key, and it is stable');
    assert.equal(readFileSync(join(sb.configDir, 'keys', 'client.pub'), 'utf8').trim(), client.stdout.trim());

    // Make the server log something: a session, a command, an error.
    outputs.push(await sb.zmx(['new', '-s', 'k', '-d']));
    outputs.push(await sb.zmx(['run', 'k', 'echo hi']));
    outputs.push(await sb.zmx(['ls', '--json']));
    outputs.push(await sb.zmx(['history', 'k', '--vt']));
    outputs.push(await sb.zmx(['kill', 'ghost']));
    outputs.push(await sb.zmx(['version']));

    const keyDir = join(sb.configDir, 'keys');
    const secretFiles = readdirSync(keyDir).filter((f) => f.endsWith('.key'));
    assert.ok(secretFiles.includes('client.key') && secretFiles.includes('server.key'), `secret key files: ${secretFiles.join(', ')}`);
    const secrets: string[] = [];
    for (const f of secretFiles) {
      const path = join(keyDir, f);
      assert.equal(statSync(path).mode & 0o777, 0o600, `${f} has mode 0600`);
      const z85 = readFileSync(path, 'utf8').trim();
      assert.match(z85, Z85_KEY);
      const raw = Buffer.from(z85Decode(z85));
      secrets.push(z85, raw.toString('hex'), raw.toString('base64'));
    }
    for (const r of outputs) {
      for (const s of secrets) {
        assert.ok(!r.stdout.includes(s) && !r.stderr.includes(s), 'no command prints a secret key');
      }
    }
    // Every other file of the sandbox: logs, pid files, config, public keys.
    const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
      const p = join(dir, e.name);
      if (e.isDirectory()) return walk(p);
      return e.isFile() ? [p] : [];
    });
    const files = walk(sb.base).filter((p) => !(p.startsWith(keyDir) && p.endsWith('.key')));
    assert.ok(files.some((p) => p.endsWith('.log')), 'the servers wrote logs');
    for (const path of files) {
      const content = readFileSync(path);
      for (const s of secrets) assert.ok(!content.includes(s), `${path} must not contain a secret key`);
    }
  });

  test('output cut short by its reader (| head) ends quietly, with no EPIPE trace', async (t) => {
    const sb = sandbox(t);
    const { spawnSync } = await import('node:child_process');
    // `sleep` lets `true` close the pipe before zmx writes: the write then fails with EPIPE.
    const r = spawnSync('sh', ['-c', `for i in 1 2 3; do ${ZMX_BIN} completions bash | { sleep 0; true; }; done; ${ZMX_BIN} help keys | head -1`], { env: sb.env, encoding: 'utf8' });
    assert.equal(r.status, 0);
    assert.doesNotMatch(r.stderr, /EPIPE|Error/, r.stderr);
    assert.equal(r.stdout.split('\n').filter(Boolean).length, 1);
  });
});
