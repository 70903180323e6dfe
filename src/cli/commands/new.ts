import { isAbsolute, resolve } from 'node:path';
import type { CommandSpec } from '../command.js';
import { UsageError } from '../command.js';
import { TIMING } from '../../common/constants.js';
import { Hosts } from '../../client/hosts.js';
import type { Context } from '../context.js';
import { createArgs, labelsOption, setLabels, LABELS_OPTION } from '../util.js';
import { attachSession, ATTACH_OPTIONS } from './attach.js';

/** `--portal HOST:SESSION`: HOST `local` or empty is this machine's server. */
const LOCAL_PORTAL_HOSTS = ['', 'local'];

/** Checks --portal: a known host (zmx host ls) and a session name. */
function portalOf(ctx: Context, spec: string): { host: string; session: string } {
  const colon = spec.indexOf(':');
  if (colon < 0 || colon === spec.length - 1) throw new UsageError(`--portal takes HOST:SESSION (HOST "local" for this machine), not "${spec}"`);
  const host = spec.slice(0, colon);
  if (!LOCAL_PORTAL_HOSTS.includes(host)) new Hosts().get(host); // a one-line error naming zmx host add
  return { host: LOCAL_PORTAL_HOSTS.includes(host) ? '' : host, session: ctx.sessionName(spec.slice(colon + 1)) };
}

export const newSession: CommandSpec = {
  name: 'new',
  aliases: ['new-session'],
  summary: 'Create a session (and attach unless -d)',
  args: [{ name: 'command', description: 'command to run (default: your login shell)', variadic: true }],
  options: [
    { flags: '-s, --session <name>', description: 'session name (required)' },
    { flags: '-c, --cwd <dir>', description: 'start directory (default: the current one); with --worktree, the repository' },
    { flags: '-d, --detach', description: 'do not attach' },
    { flags: '--worktree <branch>', description: 'start in a git worktree of its own, on BRANCH (made from HEAD if new)' },
    { flags: '--portal <host:session>', description: 'an agent pane here whose MCP tools act on SESSION at HOST ("local": this machine)' },
    LABELS_OPTION,
    ...ATTACH_OPTIONS,
  ],
  details: [
    'Fails if the session exists already; use zmx attach to create-or-attach.',
    '--worktree BRANCH gives the session a git worktree of the repository at -c (default: the current directory) as its root, on the server: <repo>/.git/zmx-worktrees/NAME, out of sight of the main checkout. BRANCH is made from the repository\'s HEAD when it does not exist and checked out when it does; a branch checked out in another worktree is refused. zmx list shows worktree= and worktree_branch=; zmx kill NAME --clean removes the worktree (the branch stays).',
    '--portal HOST:SESSION runs the command (an agent) in a pane here whose MCP configuration points at zmx mcp -H HOST -t SESSION: the file is in $ZMX_DIR/state/portal (mode 0600), named by $ZMX_MCP_CONFIG, and $ZMX_PORTAL is HOST:SESSION. claude gets --mcp-config FILE and codex the matching -c overrides; other agents can load $ZMX_MCP_CONFIG themselves.',
  ].join('\n'),
  examples: [
    'zmx new -s refactor', 'zmx new -s build -d -- make -j8', 'zmx new -s api -c ~/src/api',
    'zmx new -s fix-42 -d --worktree fix-42 -c ~/src/app -- claude', 'zmx new -s build -d --labels "project=api role=worker"', 'zmx new -s remote-agent --portal gpu:work -- claude',
  ],
  async run(ctx, args, opts) {
    if (opts['session'] === undefined) throw new UsageError('new needs a session name: zmx new -s NAME');
    const name = ctx.sessionName(opts['session'] as string);
    const cwd = opts['cwd'] as string | undefined;
    const branch = opts['worktree'] as string | undefined;
    const portalSpec = opts['portal'] as string | undefined;
    const labels = labelsOption(opts);
    if (branch !== undefined || portalSpec !== undefined) return newWorkspace(ctx, name, args, cwd, branch, portalSpec, opts, labels);
    if (!opts['detach']) {
      const running = await ctx.connect(false);
      const exists = running ? (await running.request('session.list', {})).result.sessions.some((s) => s.name === name) : false;
      if (exists) throw new UsageError(`session "${name}" already exists; attach with: zmx attach ${name}`);
      if (!ctx.stdin.isTTY && !ctx.env['ZMX_ATTACH_ANY_STDIN']) throw new UsageError('new needs a terminal on stdin to attach; add -d to create the session without attaching');
      if (!labels) return attachSession(ctx, name, true, args, cwd, { raw: Boolean(opts['raw']), theme: opts['theme'] as string | undefined });
    }
    const conn = (await ctx.connect(true))!;
    await conn.request('session.create', { ...createArgs(ctx, name, args, cwd), ifMissing: false });
    ctx.out(`session "${name}" created\n`);
    // Labelled before any client attaches, as zmx's attach --labels.
    if (labels) await setLabels(conn, name, labels);
    if (opts['detach']) return 0;
    return attachSession(ctx, name, false, [], undefined, { raw: Boolean(opts['raw']), theme: opts['theme'] as string | undefined });
  },
};

/** new --worktree / --portal: the server prepares the workspace and starts the session (workspace.create). */
async function newWorkspace(
  ctx: Context, name: string, cmd: string[], cwd: string | undefined, branch: string | undefined, portalSpec: string | undefined, opts: Record<string, unknown>,
  labels: Record<string, string> | null,
): Promise<number> {
  if (branch !== undefined && portalSpec !== undefined) throw new UsageError('choose one of --worktree and --portal');
  if (branch === '') throw new UsageError('--worktree needs a branch name');
  if (portalSpec !== undefined && ctx.host) throw new UsageError('a portal pane runs on this machine; name the remote in --portal HOST:SESSION instead of -H');
  const portal = portalSpec === undefined ? null : portalOf(ctx, portalSpec);
  let worktree: { repo: string; branch: string } | null = null;
  if (branch !== undefined) {
    // A local path is made absolute here; on a remote host it is the server's path.
    if (ctx.host && (cwd === undefined || !isAbsolute(cwd))) throw new UsageError('with -H, name the repository on the server with an absolute -c REPO');
    worktree = { repo: ctx.host ? cwd! : resolve(cwd ?? process.cwd()), branch };
  }
  const attach = !opts['detach'];
  if (attach && !ctx.stdin.isTTY && !ctx.env['ZMX_ATTACH_ANY_STDIN']) throw new UsageError('new needs a terminal on stdin to attach; add -d to create the session without attaching');
  const conn = (await ctx.connect(true))!;
  const base = createArgs(ctx, name, cmd, cwd);
  const { result } = await conn.request('workspace.create', { ...base, cwd: worktree ? '' : base.cwd, worktree, portal }, [], { timeoutMs: TIMING.workspaceOpMs });
  ctx.out(`session "${name}" created\n`);
  const wt = result.session.worktree;
  if (wt) ctx.out(`worktree ${wt.path} on ${result.createdBranch ? 'new ' : ''}branch ${wt.branch}${result.reused ? ' (taken up again)' : ''}\n`);
  if (result.session.portal) ctx.out(`portal to ${result.session.portal}\n`);
  if (labels) await setLabels(conn, name, labels);
  if (!attach) return 0;
  return attachSession(ctx, name, false, [], undefined, { raw: Boolean(opts['raw']), theme: opts['theme'] as string | undefined });
}
