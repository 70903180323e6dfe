/**
 * Text made from the command table: `zmx help`, the man page and shell
 * completions. Nothing here lists commands by hand.
 */
import { ownsShortHelp, type CommandSpec } from './command.js';
import { VERSION } from '../common/version.js';

function synopsis(spec: CommandSpec, prefix = 'zmx'): string {
  // The first spelling of each option (-s, or --worktree alone), then its value once.
  const opts = spec.options.map((o) => `[${o.flags.split(/[ ,]+/)[0]}${o.flags.includes('<') ? ' ' + o.flags.slice(o.flags.indexOf('<')) : ''}]`);
  const args = spec.args.map((a) => {
    const inner = a.variadic ? `${a.name}...` : a.name;
    return a.required ? `<${inner}>` : `[${inner}]`;
  });
  return [prefix, spec.name, ...opts, ...args].join(' ');
}

export function topLevelHelp(commands: readonly CommandSpec[]): string {
  const rows: [string, string][] = [];
  for (const c of commands) {
    if (c.subcommands) for (const s of c.subcommands) rows.push([`${c.name} ${s.name}`, s.summary]);
    else rows.push([[c.name, ...c.aliases].join('|'), c.summary]);
  }
  const width = Math.max(...rows.map(([l]) => l.length)) + 2;
  return [
    'zmx - persistent terminal sessions for coding agents, over CurveZMQ',
    '',
    'Usage: zmx [-H HOST] <command> [args...]',
    '',
    '-H HOST (--host HOST) before or after the command acts on a remote host (zmx host add) instead of this machine.',
    '',
    'Commands:',
    ...rows.map(([l, r]) => `  ${l.padEnd(width)}${r}`),
    '',
    'Run zmx <command> --help for a command\'s options. man zmx has it all.',
    '',
    'Environment variables:',
    '  ZMX_HOST             the remote host commands act on when -H is not given (zmx host ls)',
    '  ZMX_DIR              run-time directory: sockets, state, logs (default $XDG_RUNTIME_DIR/zmx; unset: /run/user/UID/zmx or /tmp/zmx-UID)',
    '  ZMX_SESSION          the session a pane belongs to (set inside sessions)',
    '  ZMX_PANE             the pane id (set inside sessions)',
    '  ZMX_SESSION_PREFIX   put before every session name',
    '  ZMX_CONFIG_DIR       keys and settings (default $XDG_CONFIG_HOME/zmx or ~/.config/zmx)',
    '  ZMX_KEYRING          where secret keys go: auto (default), keyring or file',
    '  ZMX_NO_DETACH_KEY    set (to any value, e.g. 1) to turn off the C-\\ detach key of this client, full-screen or --raw (nested use; C-b d and zmx detach still detach)',
    '',
  ].join('\n');
}

function roff(text: string): string {
  return text
    .replace(/\\/g, '\\e')
    .replace(/^([.'])/gm, '\\&$1')
    .replace(/-/g, '\\-')
    .replace(/[^\x00-\x7f]/gu, (c) => `\\[u${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}]`);
}

function manEntry(spec: CommandSpec, parent?: string): string[] {
  const out: string[] = [];
  const name = parent ? `${parent} ${spec.name}` : spec.name;
  if (spec.subcommands) {
    for (const s of spec.subcommands) out.push(...manEntry(s, name));
    return out;
  }
  out.push('.TP', `.B ${roff(synopsis(spec, parent ? `zmx ${parent}` : 'zmx').replace(/^zmx /, ''))}`);
  out.push(roff(spec.summary + '.') + (spec.aliases.length ? ` Aliases: ${roff(spec.aliases.join(', '))}.` : ''));
  if (spec.details) out.push('.br', roff(spec.details));
  for (const o of spec.options) out.push('.RS', '.TP', `.B ${roff(o.flags)}`, roff(o.description), '.RE');
  if (spec.examples?.length) {
    out.push('.RS', '.PP', 'Examples:', '.nf');
    for (const e of spec.examples) out.push(roff(e));
    out.push('.fi', '.RE');
  }
  return out;
}

/** The whole man page, man/zmx.1. */
export function manPage(commands: readonly CommandSpec[]): string {
  return [
    `.TH ZMX 1 "" "zmx ${VERSION}" "User Commands"`,
    '.SH NAME',
    'zmx \\- persistent terminal sessions for coding agents, served over CurveZMQ',
    '.SH SYNOPSIS',
    '.B zmx',
    '[\\fB\\-H\\fR \\fIhost\\fR]',
    '.I command',
    '[\\fIargs\\fR...]',
    '.SH DESCRIPTION',
    'zmx keeps terminal sessions alive on a server so that coding agents and shells keep running when you disconnect.',
    'Every byte between client and server travels over ZeroMQ DEALER/ROUTER sockets secured by CurveZMQ with stored keypairs.',
    'The first command that needs a server starts one in the background for the run\\-time directory (\\fBZMX_DIR\\fR).',
    'Every command takes \\fB\\-h\\fR, \\fB\\-\\-help\\fR.',
    'Every command that acts on a server takes \\fB\\-H\\fR \\fIhost\\fR (\\fB\\-\\-host\\fR), before the command (\\fBzmx \\-H box list\\fR, as ssh puts the host first) or after it; the one after wins.',
    '.SH COMMANDS',
    ...commands.flatMap((c) => manEntry(c)),
    '.SH ENVIRONMENT',
    '.TP', '.B ZMX_DIR', 'Run\\-time directory (sockets, pid files, logs); default \\fI$XDG_RUNTIME_DIR/zmx\\fR. With neither set (cron, systemd units, MCP clients, which start servers with a minimal environment): \\fI/run/user/UID/zmx\\fR when \\fI/run/user/UID\\fR is yours with mode 0700, or \\fI/tmp/zmx\\-UID\\fR, whichever has a running server (both: the first), else the first of them. Two values never see each other\'s sessions.',
    '.TP', '.B ZMX_HOST', 'The remote host (\\fBzmx host add\\fR) commands act on when no \\fB\\-H\\fR is given.',
    '.TP', '.B ZMX_SESSION', 'Set inside a session to its name; "." as a session name means this session.',
    '.TP', '.B ZMX_PANE', 'Set inside a session to the pane\'s id.',
    '.TP', '.B ZMX_SESSION_PREFIX', 'Put before every session name given on the command line.',
    '.TP', '.B ZMX_CONFIG_DIR', 'Keys and settings; default \\fI$XDG_CONFIG_HOME/zmx\\fR, else \\fI~/.config/zmx\\fR.',
    '.TP', '.B ZMX_KEYRING', '\\fBauto\\fR (default): secret keys go to the OS keychain when one answers, else to files of mode 0600; \\fBkeyring\\fR or \\fBfile\\fR force one.',
    '.TP', '.B ZMX_NO_DETACH_KEY', 'When set (to any value, e.g. \\fB1\\fR), C\\-\\e does not detach this client, full\\-screen or \\fB\\-\\-raw\\fR: the key goes to the program in the pane (nested sessions, vim\\(aqs C\\-\\e C\\-n). \\fBC\\-b d\\fR, \\fBzmx detach\\fR or closing the terminal still detach.',
    '.TP', '.B ZMX_LOG_LEVEL', 'Server log level (default info).',
    '.TP', '.B NO_COLOR', 'When set and not empty, the full\\-screen client draws its own parts without colour (bold and inverse only), unless a theme is chosen with \\fB\\-\\-theme\\fR or the \\fBtheme\\fR setting. What programs in panes draw is not changed.',
    '.SH FILES',
    '.TP', '.I $ZMX_DIR/front.sock, ptyhost.sock', 'CurveZMQ IPC endpoints of the server\'s two processes.',
    '.TP', '.I $ZMX_DIR/front.log, ptyhost.log', 'Server logs, JSON lines.',
    '.TP', '.I $ZMX_CONFIG_DIR/keys/', 'Public keys (\\fIrole.pub\\fR) and, without a keychain, secret keys (\\fIrole.key\\fR, mode 0600).',
    '.TP', '.I $ZMX_CONFIG_DIR/authorized_keys.json', 'Client keys the server admits.',
    '.TP', '.I $ZMX_CONFIG_DIR/config.json', 'Settings (\\fBzmx config\\fR); only the keys that were set. Checked when read: a bad value or an unknown key is an error naming the file and the key.',
    '.TP', '.I themes/*.json', 'Themes shipped with zmx: default, solarized\\-dark, nord, gruvbox, high\\-contrast, mono. A theme may also be any .json file, given by path.',
    '.SH EXIT STATUS',
    '0 on success; 1 on errors (a one\\-line message on stderr); \\fBrun\\fR and \\fBwait\\fR exit with the command\'s status; 2 for bad arguments.',
    '.SH SEE ALSO',
    '.BR tmux (1),',
    '.BR ssh (1)',
    '',
  ].join('\n');
}

function flagWords(spec: CommandSpec): string[] {
  const own = spec.options.flatMap((o) => o.flags.split(/[ ,]+/).filter((f) => f.startsWith('-')));
  return ownsShortHelp(spec) ? [...own, '--help'] : [...own, '-h', '--help'];
}

/** Completion scripts; session names come from `zmx list --short`. */
export function completions(shell: string, commands: readonly CommandSpec[]): string | null {
  const names = commands.flatMap((c) => [c.name, ...c.aliases]);
  const sessionCommands = commands.filter((c) => c.args[0]?.description.includes('session')).flatMap((c) => [c.name, ...c.aliases]);
  if (shell === 'bash') {
    const flagCases = commands.map((c) => `    ${[c.name, ...c.aliases].join('|')}) flags="${flagWords(c).join(' ')}${c.subcommands ? ' ' + c.subcommands.map((s) => s.name).join(' ') : ''}" ;;`).join('\n');
    return `# bash completion for zmx (generated from the command table)
_zmx() {
  local cur=\${COMP_WORDS[COMP_CWORD]} i=1 cmd flags=""
  # -H HOST before the command (zmx -H box list) is skipped to find it.
  while [ "$i" -lt "$COMP_CWORD" ]; do
    case "\${COMP_WORDS[i]}" in
      -H|--host) i=$((i + 2)) ;;
      -H?*|--host=*) i=$((i + 1)) ;;
      *) break ;;
    esac
  done
  if [ "$COMP_CWORD" -le "$i" ]; then
    case "\${COMP_WORDS[COMP_CWORD-1]}" in -H|--host) [ "$COMP_CWORD" -gt 1 ] && return ;; esac
    COMPREPLY=($(compgen -W "${names.join(' ')} -H --host" -- "$cur"))
    return
  fi
  cmd=\${COMP_WORDS[i]}
  case "$cmd" in
${flagCases}
  esac
  case "$cmd" in
    ${sessionCommands.join('|')}) flags="$flags $(zmx list --short 2>/dev/null)" ;;
  esac
  COMPREPLY=($(compgen -W "$flags" -- "$cur"))
}
complete -F _zmx zmx
`;
  }
  if (shell === 'zsh') {
    const lines = commands.map((c) => `    '${c.name}:${c.summary.replace(/'/g, "'\\''").replace(/:/g, '\\:')}'`).join('\n');
    return `#compdef zmx
# zsh completion for zmx (generated from the command table)
_zmx() {
  local -a commands
  commands=(
${lines}
  )
  if (( CURRENT == 2 )); then
    _describe 'command' commands
  else
    case "\${words[2]}" in
      ${sessionCommands.join('|')}) compadd -- \${(f)"$(zmx list --short 2>/dev/null)"} ;;
    esac
  fi
}
_zmx "$@"
`;
  }
  if (shell === 'fish') {
    const quote = (text: string) => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
    const lines = commands.map((c) => `complete -c zmx -n __fish_use_subcommand -a ${c.name} -d ${quote(c.summary)}`);
    lines.push(`complete -c zmx -n __fish_use_subcommand -s H -l host -r -d ${quote('act on a remote host (zmx host add), before the command')}`);
    for (const c of commands) {
      for (const o of c.subcommands ? [] : c.options) {
        const long = /--([\w-]+)/.exec(o.flags)?.[1];
        if (!long) continue;
        const short = /^-(\w),/.exec(o.flags)?.[1];
        lines.push(`complete -c zmx -n '__fish_seen_subcommand_from ${[c.name, ...c.aliases].join(' ')}'${short ? ` -s ${short}` : ''} -l ${long}${o.flags.includes('<') ? ' -r' : ''} -d ${quote(o.description)}`);
      }
    }
    lines.push(`complete -c zmx -n '__fish_seen_subcommand_from ${sessionCommands.join(' ')}' -a '(zmx list --short 2>/dev/null)'`);
    return `# fish completion for zmx (generated from the command table)
complete -c zmx -f
${lines.join('\n')}
`;
  }
  return null;
}
