import type { CommandSpec } from '../command.js';
import { UsageError } from '../command.js';
import { parsePrefixKey, withDefaults } from '../../common/config.js';
import { createArgs, labelsOption, setLabels, LABELS_OPTION } from '../util.js';
import type { Context } from '../context.js';

/** How a client shows the session: the full-screen multiplexer, or one pane passed through (`raw`). */
export interface AttachHow {
  raw: boolean;
  /** --theme: a theme name or a path to a theme file. */
  theme?: string | undefined;
}

/** Attaches this terminal to a session (creating it when `create`). */
export async function attachSession(ctx: Context, name: string, create: boolean, cmd: string[], cwd: string | undefined, how: AttachHow): Promise<number> {
  // ZMX_SESSION names a session of this machine's server: with -H the
  // session is elsewhere, so attach nested (as ssh inside tmux), never switch.
  const current = ctx.host ? undefined : ctx.env['ZMX_SESSION'];
  if (current === name) throw new UsageError(`cannot attach session "${name}" to itself; detach first (C-\\)`);
  if (current) {
    // Inside a session, as zmx does: the client showing this session moves
    // to the other one (made here, in this directory, if it does not exist).
    const conn = await ctx.connectFor(current);
    await conn.request('session.switch', { from: current, to: name, create: create ? createArgs(ctx, name, cmd, cwd) : null });
    return 0;
  }
  if (!ctx.stdin.isTTY && !ctx.env['ZMX_ATTACH_ANY_STDIN']) {
    throw new UsageError('attach needs a terminal on stdin; use zmx run, send or tail from scripts');
  }
  // Settings first: a bad config or theme is reported before anything starts.
  const settings = how.raw ? null : await tuiSettings(ctx, how);
  const conn = (await ctx.connect(true))!;
  const detachKey = ctx.env['ZMX_NO_DETACH_KEY'] === undefined;
  const common = {
    name,
    create: create ? createArgs(ctx, name, cmd, cwd) : null,
    readOnly: false,
    stdin: ctx.stdin,
    stdout: ctx.stdout,
    onCreated: () => ctx.out(`session "${name}" created\n`),
  };
  // Loaded here, not at start-up: blessed and @xterm cost every other command tens of ms.
  const end = settings
    ? await (await import('../../client/tui/app.js')).runTui(conn, { ...common, ...settings, detachKey, ...(ctx.host ? { hostName: ctx.host } : {}) })
    : await (await import('../../client/raw-attach.js')).rawAttach(conn, { ...common, stderr: ctx.stderr, detachKey });
  if (end.reason === 'detached') ctx.err(`[detached from session ${end.name}]\n`);
  else if (end.reason === 'exited') ctx.err(`[session ${end.name} exited${end.exitCode ? ` with status ${end.exitCode}` : ''}]\n`);
  else if (end.reason === 'killed' || end.reason === 'error') ctx.err(`[lost session ${end.name}]\n`);
  return 0;
}

/** The full-screen client's settings: the config (zmx config), with --theme over the configured theme. */
async function tuiSettings(ctx: Context, how: AttachHow) {
  // The settings file and the theme files: only the full-screen client reads them.
  const [{ readConfigFile }, { resolveTheme }] = await Promise.all([import('../../platform/config-file.js'), import('../../client/theme-loader.js')]);
  const explicit = readConfigFile();
  const config = withDefaults(explicit);
  const prefix = parsePrefixKey(config.prefix);
  return {
    prefix: { byte: prefix.byte, name: prefix.spec },
    // Only a theme the user chose is passed as configured, so NO_COLOR can apply otherwise.
    theme: resolveTheme({ flag: how.theme, config: explicit.theme, env: ctx.env }),
    statusFormat: config['status-format'],
    scrollback: config['history-limit'],
    mouse: config.mouse,
  };
}

/**
 * attach --labels: the session is made (if missing) and labelled before the
 * client takes the terminal, as zmx does, so a supervisor that dies between
 * the two never leaves an unlabelled session.
 */
async function labelledSession(ctx: Context, name: string, cmd: string[], cwd: string | undefined, labels: Record<string, string>): Promise<void> {
  const inside = !ctx.host && ctx.env['ZMX_SESSION'];
  if (!inside && !ctx.stdin.isTTY && !ctx.env['ZMX_ATTACH_ANY_STDIN']) {
    throw new UsageError('attach needs a terminal on stdin; use zmx run, send or tail from scripts');
  }
  const conn = (await ctx.connect(true))!;
  const { result } = await conn.request('session.create', { ...createArgs(ctx, name, cmd, cwd), ifMissing: true });
  if (result.created) ctx.out(`session "${name}" created\n`);
  await setLabels(conn, name, labels);
}

/** Options shared by attach and new for how the client shows the session. */
export const ATTACH_OPTIONS = [
  { flags: '-r, --raw', description: 'pass the active pane straight through to this terminal (native scrollback, no multiplexer)' },
  { flags: '--theme <theme>', description: 'a theme name (see themes/) or a theme file for the full-screen client' },
];

export const attach: CommandSpec = {
  name: 'attach',
  aliases: ['a'],
  summary: 'Attach to a session, creating it if needed',
  args: [
    { name: 'name', description: 'session name' },
    { name: 'command', description: 'command to run when the session is created (default: your login shell)', variadic: true },
  ],
  options: [
    { flags: '-t, --target <name>', description: 'session name (tmux style)' },
    { flags: '-c, --cwd <dir>', description: 'directory to start a new session in' },
    LABELS_OPTION,
    ...ATTACH_OPTIONS,
  ],
  passThrough: true,
  details: 'Opens the full-screen client: the session\'s windows and panes, a status bar, tmux\'s keys after the prefix (C-b by default; C-b d detaches, C-b ? lists the keys). C-\\ detaches too, as in zmx (unless ZMX_NO_DETACH_KEY is set). With --raw the active pane is passed through as it is: the screen, cursor, title (OSC 0/2), default colours (OSC 10/11/12) and modes come back exactly as they were.\nA command given for a session that exists already is ignored. Inside a session, attach switches the client showing it to NAME (creating NAME in the current directory if needed), as zmx does.',
  examples: ['zmx attach dev', 'zmx attach dev vim', 'zmx attach dev -- npm run watch', 'zmx attach -t dev', 'zmx attach --labels "project=api role=worker" build', 'zmx attach --labels "$(zmx get pico)" pico.sub'],
  async run(ctx, args, opts) {
    const target = opts['target'] as string | undefined;
    // `--` before the command, as new takes it (after the first word, options are not parsed here).
    const words = target !== undefined && args[0] === '--' ? args.slice(1) : args;
    const [first, ...rest] = words;
    const name = ctx.sessionName(target ?? first);
    const cmd = target !== undefined && first !== undefined ? [first, ...rest] : rest[0] === '--' ? rest.slice(1) : rest;
    const cwd = opts['cwd'] as string | undefined;
    const labels = labelsOption(opts);
    if (labels) await labelledSession(ctx, name, cmd, cwd, labels);
    return attachSession(ctx, name, true, cmd, cwd, { raw: Boolean(opts['raw']), theme: opts['theme'] as string | undefined });
  },
};
