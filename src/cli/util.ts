/** Helpers shared by command handlers. */
import { TERMINAL } from '../common/constants.js';
import type { CreateArgs, SessionInfo } from '../common/protocol.js';
import type { Context } from './context.js';

/** Characters that make zmx quote an argument when it joins a command line. */
const NEEDS_QUOTE = /[\s"'\\$`!(){}[\]|&;<>?*~#]/;

/** Joins argv into a shell command line, quoting as zmx does. */
export function shellJoin(argv: readonly string[]): string {
  return argv.map((a) => (a === '' || NEEDS_QUOTE.test(a) ? `'${a.replace(/'/g, `'\\''`)}'` : a)).join(' ');
}

export { stripAnsi } from '../client/run-output.js';

/** `run` and `write` make sessions running bash, whatever the user's shell: the marker relies on `$?`. */
export const TASK_SHELL = ['bash', '--login'];

/**
 * Arguments for creating a session from this terminal. It starts in `cwd`,
 * else here — but on a remote host (-H) this directory means nothing, so
 * there it starts in the server's default (its user's home).
 */
export function createArgs(ctx: Context, name: string, cmd: string[], cwd: string | undefined): CreateArgs {
  const env: Record<string, string> = {};
  for (const key of ['TERM', 'COLORTERM', 'LANG', 'LC_ALL', 'LC_CTYPE']) {
    const v = ctx.env[key];
    if (v) env[key] = v;
  }
  return {
    name,
    cmd,
    cwd: cwd ?? (ctx.host ? '' : process.cwd()),
    env,
    cols: ctx.stdout.columns || TERMINAL.defaultCols,
    rows: ctx.stdout.rows || TERMINAL.defaultRows,
  };
}

/** zmx list's line: tab-separated key=value fields. */
export function listLine(s: SessionInfo, current: string | undefined): string {
  const pane = s.panes[0];
  const fields = [`name=${s.name}`, `pid=${pane?.pid ?? 0}`, `clients=${s.clients}`, `created=${Math.floor(s.created / 1000)}`];
  fields.push(`cwd=${pane?.cwdUri || s.root}`);
  if (pane && pane.cmd.length > 0 && !isDefaultShell(pane.cmd)) fields.push(`cmd=${truncate(shellJoin(pane.cmd), 256)}`);
  if (s.task && s.task.status !== null && s.task.ended !== null) fields.push(`ended=${Math.floor(s.task.ended / 1000)}`, `exit_code=${s.task.status}`);
  for (const [k, v] of Object.entries(workspaceFields(s))) fields.push(`${k}=${v}`);
  for (const [k, v] of Object.entries(s.labels)) fields.push(`${k}=${v}`);
  return `${s.name === current ? '→ ' : '  '}${fields.join('\t')}\n`;
}

/** The read-only fields of a session's workspace: worktree, worktree_branch, portal (only those it has). */
export function workspaceFields(s: SessionInfo): Record<string, string> {
  const fields: Record<string, string> = {};
  if (s.worktree) { fields['worktree'] = s.worktree.path; fields['worktree_branch'] = s.worktree.branch; }
  if (s.portal) fields['portal'] = s.portal;
  return fields;
}

function isDefaultShell(cmd: string[]): boolean {
  return cmd.length === 2 && cmd[1] === '-l';
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}...` : text;
}
