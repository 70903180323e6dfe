import type { CommandSpec } from '../command.js';
import { UsageError } from '../command.js';
import { Hosts } from '../../client/hosts.js';
import { checkTcpEndpoint } from '../../platform/listen.js';
import { fingerprint } from '../../common/z85.js';

const add: CommandSpec = {
  name: 'add',
  aliases: [],
  summary: 'Remember a remote server: its name, address and public key',
  args: [
    { name: 'name', description: 'what you will call it (-H NAME)', required: true },
    { name: 'address', description: 'tcp://HOST:PORT it listens on (zmx server start --listen)', required: true },
  ],
  options: [{ flags: '--key <key>', description: 'the server\'s public key: zmx keys show --server, run on it' }],
  details: 'Your own key must be authorized there too: zmx keys authorize YOUR_KEY on the server, or use zmx pair, which does both.',
  examples: ['zmx host add box tcp://10.0.0.5:7750 --key "$(ssh box zmx keys show --server)"'],
  async run(ctx, args, opts) {
    if (typeof opts['key'] !== 'string') throw new UsageError('host add needs the server\'s key: --key KEY (zmx keys show --server on the server)');
    const entry = new Hosts().add({ name: args[0]!, endpoint: checkTcpEndpoint(args[1]!), serverKey: opts['key'] });
    ctx.out(`host ${entry.name} added: ${entry.endpoint}, server key ${fingerprint(entry.serverKey)}\n`);
    return 0;
  },
};

const rm: CommandSpec = {
  name: 'rm',
  aliases: ['remove'],
  summary: 'Forget a remote server',
  args: [{ name: 'name', description: 'the host\'s name', required: true }],
  options: [],
  async run(ctx, args) {
    if (!new Hosts().remove(args[0]!)) throw new UsageError(`unknown host "${args[0]}"; see zmx host ls`);
    ctx.out(`host ${args[0]} removed\n`);
    return 0;
  },
};

const ls: CommandSpec = {
  name: 'ls',
  aliases: ['list'],
  summary: 'List the remote servers this client knows',
  args: [],
  options: [{ flags: '--json', description: 'machine-readable JSON' }],
  async run(ctx, _args, opts) {
    const hosts = new Hosts().list();
    if (opts['json']) ctx.out(JSON.stringify(hosts, null, 2) + '\n');
    else for (const h of hosts) ctx.out(`${h.name}\t${h.endpoint}\t${fingerprint(h.serverKey)}\n`);
    return 0;
  },
};

export const host: CommandSpec = {
  name: 'host',
  aliases: [],
  summary: 'Manage the remote servers this client knows',
  args: [],
  options: [],
  subcommands: [add, rm, ls],
};
