/**
 * Compatibility with zmx (neurosnap/zmx) and with tmux and ssh habits,
 * black-box: -H before the command, zmx's errors for get, kill --force of
 * a session whose server died, labels on attach/new/run and list --where,
 * ZMX_NO_DETACH_KEY, the run task marker, keys that start with '-'.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertOk, assertOneLineError } from '../helpers/assert.js';
import { listening, paired } from '../helpers/remote.js';

describe('zmx compatibility', { concurrency: 2 }, () => {
  test('-H HOST / --host HOST before the command reaches the remote server, as after it and as ZMX_HOST', async (t) => {
    const { server, address } = await listening(t);
    assertOk(await server.zmx(['new', '-s', 'far', '-d']), 'new on the server');
    const client = await paired(t, server, address);
    for (const lead of [['-H', 'box'], ['--host', 'box'], ['--host=box'], ['-Hbox']]) {
      const r = await client.zmx([...lead, 'list', '--short']);
      assertOk(r, `zmx ${lead.join(' ')} list`);
      assert.equal(r.stdout, 'far\n', `zmx ${lead.join(' ')} list shows the server's session`);
    }
    // Bare `zmx -H box` lists, as bare `zmx` does.
    const bare = await client.zmx(['-H', 'box']);
    assertOk(bare, 'zmx -H box');
    assert.match(bare.stdout, /name=far\t/);
    const run = await client.zmx(['--host', 'box', 'run', 'far', 'echo lead-$((6*7))']);
    assertOk(run, 'zmx --host box run');
    assert.match(run.stdout, /^lead-42$/m);
    // attach gets as far as wanting a terminal: -H was taken, not refused as an unknown option.
    assertOneLineError(await client.zmx(['--host', 'box', 'attach', 'far']), 'attach without a tty', /needs a terminal/);
    // The -H after the command wins over the one before; ZMX_HOST still works.
    assertOneLineError(await client.zmx(['-H', 'box', 'ls', '-H', 'nowhere']), 'the later -H wins', /nowhere/);
    assert.equal((await client.zmx(['ls', '--short'], { env: { ZMX_HOST: 'box' } })).stdout, 'far\n');
    // Commands about this machine alone say so; a -H with no host is a usage error.
    assertOneLineError(await client.zmx(['-H', 'box', 'keys', 'show']), 'keys with -H', /keys acts on this machine only/, true);
    assertOneLineError(await client.zmx(['-H']), '-H alone', /needs a host name/, true);
    assert.equal(client.frontPid(), null, 'the client started no server of its own');
  });
});
