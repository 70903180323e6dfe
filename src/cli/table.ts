/** Every command, in the order `zmx help` lists them. */
import type { CommandSpec } from './command.js';
import { newSession } from './commands/new.js';
import { attach } from './commands/attach.js';
import { detach } from './commands/detach.js';
import { list } from './commands/list.js';
import { kill } from './commands/kill.js';
import { run } from './commands/run.js';
import { send } from './commands/send.js';
import { print } from './commands/print.js';
import { write } from './commands/write.js';
import { get } from './commands/get.js';
import { set } from './commands/set.js';
import { unset } from './commands/unset.js';
import { clear } from './commands/clear.js';
import { history } from './commands/history.js';
import { tail } from './commands/tail.js';
import { wait } from './commands/wait.js';
import { keys } from './commands/keys.js';
import { config } from './commands/config.js';
import { completionsCommand } from './commands/completions.js';
import { version } from './commands/version.js';
import { helpCommand } from './commands/help.js';
import { split } from './commands/split.js';
import { newWindow } from './commands/new-window.js';
import { selectPane } from './commands/select-pane.js';
import { selectWindow } from './commands/select-window.js';
import { selectLayout } from './commands/select-layout.js';
import { resizePane } from './commands/resize-pane.js';
import { killPane } from './commands/kill-pane.js';
import { capturePane } from './commands/capture-pane.js';
import { server } from './commands/server.js';
import { host } from './commands/host.js';
import { pair } from './commands/pair.js';
import { snapshot, rollback, diff } from './commands/snapshot.js';
import { fs } from './commands/fs.js';
import { exec } from './commands/exec.js';
import { cp } from './commands/cp.js';
import { audit } from './commands/audit.js';
import { mcp } from './commands/mcp.js';

/** Commands about this machine alone: the rest take -H HOST to act on a remote server. */
const LOCAL_ONLY = new Set(['keys', 'config', 'completions', 'version', 'help', 'host', 'server', 'pair']);

/** `-H NAME` on every command that names a session, so help, completions and the man page show it. */
function withHost(spec: CommandSpec): CommandSpec {
  // A command with sub-commands gives -H to each of them itself.
  if (LOCAL_ONLY.has(spec.name) || spec.subcommands) return spec;
  return { ...spec, options: [...spec.options, { flags: '-H, --host <name>', description: 'act on a remote host (zmx host add; default $ZMX_HOST); also before the command: zmx -H HOST ' + spec.name }] };
}

// help and completions are handed the table (they are in it), so neither imports this file back.
const completions = completionsCommand(() => COMMANDS);
const help = helpCommand(() => COMMANDS);

export const COMMANDS: readonly CommandSpec[] = [
  newSession, attach, detach, list, kill, run, send, print, write,
  split, newWindow, selectPane, selectWindow, selectLayout, resizePane, killPane, capturePane,
  get, set, unset, clear, history, tail, wait, exec, fs, cp, audit, mcp, snapshot, rollback, diff, server, host, pair, keys, config, completions, version, help,
].map(withHost);
