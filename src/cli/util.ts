/** Helpers shared by command handlers. */
import { TERMINAL } from '../common/constants.js';
import type { CreateArgs, SessionInfo } from '../common/protocol.js';
import type { Context } from './context.js';
import type { Connection } from '../client/connection.js';
import { UsageError } from './command.js';

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

/** --labels "k=v k2=v2" on attach, new and run (as zmx's), the form zmx set takes. */
export const LABELS_OPTION = { flags: '--labels <pairs>', description: 'set labels "k=v k2=v2" on the session (as zmx set does), before the command runs or the client attaches' };

/** "k=v k2=v2" (space-separated key=value words, as zmx set takes them); an empty value means "remove". */
export function parseLabels(text: string): Record<string, string> {
  const pairs: Record<string, string> = {};
  for (const token of text.split(/\s+/).filter(Boolean)) {
    const eq = token.indexOf('=');
    if (eq < 0) throw new UsageError(`expected key=value, got "${token}"`);
    if (eq === 0) throw new UsageError('label key cannot be empty');
    pairs[token.slice(0, eq)] = token.slice(eq + 1);
  }
  return pairs;
}

/**
 * --labels: parsed (a bad one is reported before anything is made), or null
 * when not given. An empty --labels "" is refused, as zmx refuses it.
 */
export function labelsOption(opts: Record<string, unknown>): Record<string, string> | null {
  const raw = opts['labels'];
  if (raw === undefined) return null;
  const pairs = parseLabels(String(raw));
  if (Object.keys(pairs).length === 0) throw new UsageError('--labels requires "key=value ..."');
  return pairs;
}

/** Sets labels on a session that exists. */
export async function setLabels(conn: Connection, name: string, labels: Record<string, string>): Promise<void> {
  await conn.request('session.labels', { name, set: labels, unset: [], clear: false });
}

/**
 * `list --where "k=v k2=v2"`: whether a session has every pair (its labels,
 * or the read-only fields name, worktree, worktree_branch, portal).
 */
export function matchesWhere(s: SessionInfo, where: Record<string, string>): boolean {
  const fields: Record<string, string> = { name: s.name, ...workspaceFields(s), ...s.labels };
  return Object.entries(where).every(([k, v]) => fields[k] === v);
}
