import type { CommandSpec } from '../command.js';
import { UsageError } from '../command.js';
import { TIMING } from '../../common/constants.js';

const TARGET = { flags: '-t, --target <name>', description: 'session (default: this one)' };
const HOW = 'A git root (the top of a repository or worktree) is saved as a commit on refs/zmx/snapshots/NAME/LABEL, made with a temporary index: untracked files are included, ignored files are not, and HEAD, the branch and the index are never touched. Any other root is copied to $ZMX_DIR/state/snapshots (at most 50 000 files and 256 MiB), kept while the session lives.';

export const snapshot: CommandSpec = {
  name: 'snapshot',
  aliases: [],
  summary: 'Save a session\'s workspace (its root) under a label',
  args: [{ name: 'label', description: 'letters, digits, ".", "_" and "-" (default: the time, e.g. 20250102-150405)' }],
  options: [TARGET, { flags: '--list', description: 'list the session\'s snapshots, oldest first: label and time' }],
  details: `Prints the label. ${HOW} zmx rollback restores a snapshot, zmx diff compares one with the tree as it is.`,
  examples: ['zmx snapshot -t agent', 'zmx snapshot -t agent before-refactor', 'zmx snapshot -t agent --list'],
  async run(ctx, args, opts) {
    const name = ctx.sessionName(opts['target'] as string | undefined);
    const conn = await ctx.connectFor(name);
    if (opts['list']) {
      if (args[0] !== undefined) throw new UsageError('--list takes no label');
      const { result } = await conn.request('workspace.snapshots', { name }, [], { timeoutMs: TIMING.workspaceOpMs });
      if (result.snapshots.length === 0) ctx.err(`session "${name}" has no snapshots\n`);
      for (const s of result.snapshots) ctx.out(`${s.label}\t${new Date(s.created).toISOString()}\t${result.kind}\n`);
      return 0;
    }
    const { result } = await conn.request('workspace.snapshot', { name, label: args[0] ?? '' }, [], { timeoutMs: TIMING.workspaceOpMs });
    ctx.out(`${result.label}\n`);
    return 0;
  },
};

export const rollback: CommandSpec = {
  name: 'rollback',
  aliases: [],
  summary: 'Restore a session\'s workspace to a snapshot',
  args: [{ name: 'label', description: 'the snapshot (default: the latest)' }],
  options: [TARGET],
  details: 'Every file changed, added or deleted since the snapshot is put back as it was, modes included; ignored files (git) are left alone, and HEAD, the branch and the index stay exactly as they are. Take a snapshot first if you may want the current state back.',
  examples: ['zmx rollback -t agent', 'zmx rollback -t agent before-refactor'],
  async run(ctx, args, opts) {
    const name = ctx.sessionName(opts['target'] as string | undefined);
    const conn = await ctx.connectFor(name);
    const { result } = await conn.request('workspace.rollback', { name, label: args[0] ?? '' }, [], { timeoutMs: TIMING.workspaceOpMs });
    ctx.out(`rolled back session ${name} to snapshot ${result.label}\n`);
    return 0;
  },
};

export const diff: CommandSpec = {
  name: 'diff',
  aliases: [],
  summary: 'Show what changed in a session\'s workspace since a snapshot',
  args: [{ name: 'label', description: 'the snapshot (default: the latest)' }],
  options: [TARGET],
  details: 'Prints a unified diff (git diff) of the snapshot against the tree as it is now, untracked files included; nothing when they are the same.',
  examples: ['zmx diff -t agent', 'zmx diff -t agent before-refactor | less'],
  async run(ctx, args, opts) {
    const name = ctx.sessionName(opts['target'] as string | undefined);
    const conn = await ctx.connectFor(name);
    const { frames } = await conn.request('workspace.diff', { name, label: args[0] ?? '' }, [], { timeoutMs: TIMING.workspaceOpMs });
    ctx.stdout.write(frames[0] ?? Buffer.alloc(0));
    return 0;
  },
};
