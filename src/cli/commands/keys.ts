import type { CommandSpec } from '../command.js';
import { UsageError } from '../command.js';
import { KeyStore } from '../../platform/keystore.js';

const show: CommandSpec = {
  name: 'show',
  aliases: [],
  summary: 'Print a public key (Z85), alone on a line',
  args: [],
  options: [
    { flags: '--client', description: 'this user\'s client key (the default)' },
    { flags: '--server', description: 'this machine\'s server key' },
  ],
  details: 'The keypair is made on first use. Secret keys are never printed.',
  async run(ctx, _args, opts) {
    if (opts['client'] && opts['server']) throw new UsageError('choose one of --client and --server');
    const role = opts['server'] ? 'server' : 'client';
    ctx.out(new KeyStore().publicKeyOrCreate(role) + '\n');
    return 0;
  },
};

export const keys: CommandSpec = {
  name: 'keys',
  aliases: [],
  summary: 'Manage Curve keys',
  args: [],
  options: [],
  subcommands: [show],
};
