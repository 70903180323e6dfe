import type { CommandSpec } from '../command.js';
import { UsageError } from '../command.js';
import { resolve } from 'node:path';
import { existsSync, statSync } from 'node:fs';
import { KeyStore, fingerprint } from '../../platform/keystore.js';
import { AuthorizedKeys, OPERATIONS, type AuthorizedKey, type Operation } from '../../platform/authorized.js';
import { isZ85Key } from '../../common/z85.js';

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

const authorize: CommandSpec = {
  name: 'authorize',
  aliases: [],
  summary: 'Let a client key use this machine\'s server, within limits',
  args: [{ name: 'key', description: 'the client\'s public key (zmx keys show, run on the client)', required: true }],
  options: [
    { flags: '--name <label>', description: 'who it is, for keys list and the audit log' },
    { flags: '--root <dir>', description: 'confine its file and command operations to this directory' },
    { flags: '--allow <ops>', description: `comma-separated: ${OPERATIONS.join(', ')} (default: all)` },
    { flags: '--read-only', description: 'it may read and watch, never write or type' },
  ],
  details: 'Takes effect at once, for new connections; keys revoke cuts live ones. A key that starts with "-" is taken as the key, not an option (or put it after --: zmx keys authorize -- KEY).',
  positionalWord: isZ85Key,
  examples: ['zmx keys authorize "$(ssh laptop zmx keys show)" --name laptop', 'zmx keys authorize KEY --root ~/src/app --allow fs.read,exec'],
  async run(ctx, args, opts) {
    const key = args[0]!;
    if (!isZ85Key(key)) throw new UsageError('a public key is 40 characters of Z85, as zmx keys show prints it');
    const allow = opts['allow'] === undefined ? [...OPERATIONS] : String(opts['allow']).split(',').map((o) => o.trim()).filter(Boolean);
    const unknown = allow.filter((o) => !(OPERATIONS as readonly string[]).includes(o));
    if (unknown.length || allow.length === 0) throw new UsageError(`--allow takes ${OPERATIONS.join(', ')}; not "${unknown.join(',') || opts['allow']}"`);
    let root: string | null = null;
    if (opts['root'] !== undefined) {
      root = resolve(String(opts['root']));
      if (!existsSync(root) || !statSync(root).isDirectory()) throw new UsageError(`--root ${root} is not a directory`);
    }
    const entry = new AuthorizedKeys().add({ key, name: (opts['name'] as string | undefined) ?? '', root, allow: allow as Operation[], readOnly: Boolean(opts['readOnly']) });
    ctx.out(`authorized ${fingerprint(entry.key)}${entry.name ? ` (${entry.name})` : ''}\n`);
    return 0;
  },
};

/** Keys matching what the user typed: the whole key, its fingerprint (or a prefix of it), or its name. */
function matching(all: AuthorizedKey[], what: string): AuthorizedKey[] {
  return all.filter((k) => k.key === what || k.name === what || (what.length >= 'SHA256:'.length + 4 && fingerprint(k.key).startsWith(what)));
}

const revoke: CommandSpec = {
  name: 'revoke',
  aliases: [],
  summary: 'Take a key\'s access away; its live connections are cut at once',
  args: [{ name: 'key', description: 'the key, its fingerprint (SHA256:...) or its name', required: true }],
  options: [],
  details: 'A key that starts with "-" is taken as the key, not an option (or put it after --: zmx keys revoke -- KEY).',
  positionalWord: isZ85Key,
  async run(ctx, args) {
    const store = new AuthorizedKeys();
    const found = matching(store.list(), args[0]!);
    if (found.length === 0) throw new UsageError(`no authorized key matches "${args[0]}"; see zmx keys list`);
    if (found.length > 1) throw new UsageError(`"${args[0]}" matches ${found.length} keys; give the whole key or its fingerprint`);
    store.remove(found[0]!.key);
    ctx.out(`revoked ${fingerprint(found[0]!.key)}${found[0]!.name ? ` (${found[0]!.name})` : ''}\n`);
    return 0;
  },
};

const list: CommandSpec = {
  name: 'list',
  aliases: ['ls'],
  summary: 'List the keys this machine\'s server admits',
  args: [],
  options: [{ flags: '--json', description: 'machine-readable JSON' }],
  async run(ctx, _args, opts) {
    const all = new AuthorizedKeys().list();
    if (opts['json']) {
      ctx.out(JSON.stringify(all.map((k) => ({ ...k, fingerprint: fingerprint(k.key) })), null, 2) + '\n');
      return 0;
    }
    for (const k of all) {
      const limits = [`allow=${k.allow.join(',')}`, k.root ? `root=${k.root}` : '', k.readOnly ? 'read-only' : ''].filter(Boolean).join('\t');
      ctx.out(`${fingerprint(k.key)}\t${k.name || '-'}\t${limits}\n`);
    }
    return 0;
  },
};

export const keys: CommandSpec = {
  name: 'keys',
  aliases: [],
  summary: 'Manage Curve keys: show yours, authorize and revoke others',
  args: [],
  options: [],
  subcommands: [show, authorize, revoke, list],
};
