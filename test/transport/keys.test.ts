/**
 * Key hygiene on a real server: secret keys are files of mode 0600 in a
 * 0700 directory (ZMX_KEYRING=file, so no keychain and no keyring marker),
 * the run-time directory is 0700, and no command output, log, run-time file,
 * process command line or session environment ever holds a secret key —
 * in Z85, hex or base64.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z85Decode } from '../../src/common/z85.js';
import { KeyStore } from '../../src/platform/keystore.js';
import { Sandbox } from '../helpers/harness.js';

function mode(path: string): string {
  return (statSync(path).mode & 0o777).toString(8).padStart(3, '0');
}

/** Every regular file under dir (recursively), with its contents. */
function filesUnder(dir: string): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = [];
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = lstatSync(path);
    if (st.isDirectory()) out.push(...filesUnder(path));
    else if (st.isFile()) out.push({ path, text: readFileSync(path).toString('latin1') });
  }
  return out;
}

/** The forms a leaked secret could take. */
function secretForms(z85: string): string[] {
  const raw = z85Decode(z85);
  return [z85, raw.toString('hex'), raw.toString('base64'), raw.toString('latin1')];
}

test('secret keys are 0600 files in 0700 directories, the run-time dir is 0700, and no keyring marker is written', async () => {
  const sb = new Sandbox({ ZMX_KEYRING: 'file' });
  try {
    // A run-time dir made loose beforehand is tightened by the server.
    mkdirSync(sb.dir, { recursive: true });
    chmodSync(sb.dir, 0o755);
    const r = await sb.zmx(['new', '-s', 'a', '-d']);
    assert.equal(r.status, 0, r.stderr);

    const keysDir = join(sb.configDir, 'keys');
    assert.equal(mode(sb.dir), '700', 'ZMX_DIR');
    assert.equal(mode(sb.configDir), '700', 'config dir');
    assert.equal(mode(keysDir), '700', 'keys dir');
    for (const role of ['client', 'server', 'ptyhost'] as const) {
      assert.equal(mode(join(keysDir, `${role}.key`)), '600', `${role}.key`);
      assert.ok(!existsSync(join(keysDir, `${role}.keyring`)), `no ${role}.keyring marker with ZMX_KEYRING=file`);
      assert.equal(new KeyStore(keysDir, 'file').location(role), 'file');
    }
    const names = readdirSync(keysDir).sort();
    assert.deepEqual(names, ['client.key', 'client.pub', 'ptyhost.key', 'ptyhost.pub', 'server.key', 'server.pub'], 'nothing else (no lock or temp file left behind)');
    assert.equal(mode(join(sb.configDir, 'authorized_keys.json')), '600', 'authorized_keys.json');
    for (const f of ['front.log', 'ptyhost.log', 'front.pid', 'ptyhost.pid']) {
      assert.equal(mode(join(sb.dir, f)), '600', f);
    }
  } finally {
    await sb.cleanup();
  }
});

test('no command, log, run-time file, process or session environment shows a secret key', async () => {
  const sb = new Sandbox({ ZMX_KEYRING: 'file' });
  try {
    const outputs: { cmd: string; text: string }[] = [];
    const zmx = async (args: string[], okStatus: number[] = [0]) => {
      const r = await sb.zmx(args);
      assert.ok(okStatus.includes(r.status), `zmx ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
      outputs.push({ cmd: `zmx ${args.join(' ')}`, text: r.stdout + r.stderr });
      return r;
    };
    await zmx(['new', '-s', 'a', '-d']);
    const client = await zmx(['keys', 'show', '--client']);
    const server = await zmx(['keys', 'show', '--server']);
    const plain = await zmx(['keys', 'show']);
    await zmx(['keys']);
    await zmx(['ls']);
    await zmx(['ls', '--json']);
    await zmx(['version']);
    await zmx(['help']);
    await zmx(['help', 'keys']);
    await zmx(['new', '-s', 'b', '-d']);
    await zmx(['get', 'a']);
    await zmx(['keys', 'show', '--client', '--server'], [1, 2]);
    await zmx(['new', '-s', 'b', '-d'], [1, 2]);
    const env = await zmx(['run', 'a', 'env']);
    await zmx(['history', 'a']);

    const keysDir = join(sb.configDir, 'keys');
    const pub = (role: string) => readFileSync(join(keysDir, `${role}.pub`), 'utf8').trim();
    // Positive control: keys show prints the public keys, each alone on a line.
    assert.equal(client.stdout, pub('client') + '\n');
    assert.equal(server.stdout, pub('server') + '\n');
    assert.equal(plain.stdout, pub('client') + '\n', 'keys show defaults to the client key');
    assert.match(env.stdout, /ZMX_SESSION=a/, 'the env of the session was captured');

    const secrets = ['client', 'server', 'ptyhost'].map((role) => ({ role, key: readFileSync(join(keysDir, `${role}.key`), 'utf8').trim() }));
    const places: { where: string; text: string }[] = [
      ...outputs.map((o) => ({ where: `output of ${o.cmd}`, text: o.text })),
      ...filesUnder(sb.dir).map((f) => ({ where: f.path, text: f.text })),
      ...filesUnder(sb.configDir).filter((f) => !f.path.endsWith('.key')).map((f) => ({ where: f.path, text: f.text })),
    ];
    for (const pid of [sb.frontPid(), sb.ptyhostPid()]) {
      assert.ok(pid, 'server pids are known');
      for (const part of ['cmdline', 'environ']) {
        places.push({ where: `/proc/${pid}/${part}`, text: readFileSync(`/proc/${pid}/${part}`).toString('latin1') });
      }
    }
    assert.ok(places.some((p) => p.where.endsWith('front.log')), 'the front log was searched');
    assert.ok(places.some((p) => p.where.endsWith('ptyhost.log')), 'the pty host log was searched');
    for (const { role, key } of secrets) {
      for (const form of secretForms(key)) {
        for (const p of places) assert.ok(!p.text.includes(form), `the ${role} secret key appears in ${p.where}`);
      }
    }
  } finally {
    await sb.cleanup();
  }
});
