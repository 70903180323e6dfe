/**
 * The command tools: run_command, and for a command that outlives its call
 * (it ran past `wait_seconds`, or was started with `background`) the tools
 * that take its id — command_output, command_wait, command_kill. A call
 * waits at most RUN_WAIT_S by default, under the 60 s an MCP client
 * usually gives a request, and while it waits sends progress notifications
 * (when the request asked, with a progressToken) carrying the output as it
 * comes.
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { ZmxError } from '../common/errors.js';
import { SIGNALS } from '../common/portal.js';
import { CommandTracker, RUN_MAX_STREAM_BYTES, type Tracked } from './commands.js';
import { guarded, textResult, type ToolExtra } from './results.js';

/** How long a call waits for its command unless told otherwise: under the 60 s MCP clients give a request by default. */
export const RUN_WAIT_S = 45;
/** The longest wait a call takes (a client configured with a longer request timeout may ask for it). */
const RUN_MAX_WAIT_S = 600;
/** A command is killed after this long unless given a timeout: it may outlive its call, not the afternoon. */
export const RUN_DEFAULT_TIMEOUT_S = 1800;
const RUN_MAX_TIMEOUT_S = 24 * 3600;
/** A waiting call sends a progress notification this often (with the output since the last, if any). */
export const PROGRESS_EVERY_MS = 1_000;
/** A progress notification carries at most this much new output: its end. */
const PROGRESS_MAX_BYTES = 4 * 1024;

const RUN_OUTPUT = {
  id: z.number().int().describe('the command\'s id, for command_output, command_wait and command_kill'),
  running: z.boolean().describe('still running: the call stopped waiting (see wait_seconds); the other fields are so far'),
  exitCode: z.number().int().nullable().describe('the exit status; null while running or when a signal ended the command'),
  signal: z.string().nullable().describe('the signal that ended it (SIGKILL...), null if it exited or runs'),
  durationMs: z.number().describe('how long it ran (or has run so far), in milliseconds'),
  truncated: z.boolean().describe('some output is not included (too much of it)'),
  timedOut: z.boolean().describe('ended by its timeout (the whole process group was killed)'),
  stdout: z.string().describe('what it printed on stdout (the end of it)'),
  stderr: z.string().describe('what it printed on stderr (the end of it)'),
};

const WAIT_SECONDS = z.number().min(0).max(RUN_MAX_WAIT_S).optional()
  .describe(`how long this call waits for the command to end before answering with its id and output so far (default ${RUN_WAIT_S}; 0 answers at once)`);

/** A command as a tool result: structured, and as text. */
function outcome(t: Tracked): CallToolResult {
  if (t.error) throw t.error;
  const out = t.stdout.text();
  const err = t.stderr.text();
  const r = t.result;
  const structured = {
    id: t.id, running: r === null,
    exitCode: r?.exitCode ?? null, signal: r?.signal ?? null,
    durationMs: r ? r.durationMs : Date.now() - t.startedMs,
    truncated: (r?.truncated ?? t.skipped) || out.cut || err.cut, timedOut: r?.timedOut ?? false,
    stdout: out.text, stderr: err.text,
  };
  const how = !r ? `running for ${Math.round(structured.durationMs / 1000)} s (command ${t.id}, still going): command_wait {"id": ${t.id}} waits for its end, command_output shows its output now, command_kill ends it`
    : r.timedOut ? `timed out after ${r.durationMs} ms (killed${r.signal ? ` by ${r.signal}` : ''})`
      : r.signal ? `killed by ${r.signal}` : `exit code ${r.exitCode}`;
  const text = `${how}\n--- stdout ---\n${out.text}${out.text.endsWith('\n') || out.text === '' ? '' : '\n'}--- stderr ---\n${err.text}`;
  return { content: [{ type: 'text', text }], structuredContent: structured };
}

/**
 * Waits up to `seconds` for `t` to end, sending progress notifications
 * meanwhile when the request carries a progressToken.
 */
async function waitWithProgress(tracker: CommandTracker, t: Tracked, seconds: number, extra: ToolExtra): Promise<void> {
  const token = extra._meta?.progressToken;
  if (token === undefined || seconds === 0) {
    await tracker.wait(t, seconds * 1000, extra.signal);
    return;
  }
  let fresh = '';
  const listen = (_stream: 'stdout' | 'stderr', data: Buffer) => {
    fresh += data.toString('utf8');
    if (fresh.length > PROGRESS_MAX_BYTES) fresh = fresh.slice(-PROGRESS_MAX_BYTES);
  };
  t.listeners.add(listen);
  const timer = setInterval(() => {
    const elapsed = Date.now() - t.startedMs;
    const message = fresh || `running for ${Math.round(elapsed / 1000)} s, nothing new printed`;
    fresh = '';
    // progress must grow with each notification: the milliseconds it has run do.
    extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: elapsed, message } }).catch(() => {});
  }, PROGRESS_EVERY_MS);
  try {
    await tracker.wait(t, seconds * 1000, extra.signal);
  } finally {
    clearInterval(timer);
    t.listeners.delete(listen);
  }
}

export function registerCommandTools(server: McpServer, tracker: CommandTracker, where: string): void {
  server.registerTool('run_command', {
    title: 'Run a command',
    description: `Runs a command ${where}, in its root (or \`cwd\` below it), as a process of its own (not in the terminal: use terminal_send for that). Give \`command\`, a shell script for /bin/sh -c (pipes, &&, redirections work), or \`argv\`, a program and its arguments run without a shell. Returns stdout, stderr and the exit code separately (structured: id, running, exitCode, signal, durationMs, truncated, timedOut, stdout, stderr); a non-zero exit is a result, not a tool error. At most ${RUN_MAX_STREAM_BYTES} bytes of each stream are returned (the end). The call waits up to \`wait_seconds\` (default ${RUN_WAIT_S}); a command still running then goes on in the background and the answer says so (running: true) with its id: call command_wait to wait again, command_output to see its output, command_kill to end it. \`background: true\` answers at once. The command is killed after \`timeout_seconds\` (default ${RUN_DEFAULT_TIMEOUT_S}), and when this MCP server ends. Nothing is interactive: stdin is \`stdin\` or empty.`,
    inputSchema: {
      command: z.string().optional().describe('a shell script, e.g. "npm test 2>&1 | tail -20"'),
      argv: z.array(z.string()).optional().describe('a program and its arguments, run without a shell (instead of command)'),
      cwd: z.string().optional().describe('working directory, relative to the session root (default: the root)'),
      timeout_seconds: z.number().positive().max(RUN_MAX_TIMEOUT_S).optional().describe(`kill it after this long (default ${RUN_DEFAULT_TIMEOUT_S})`),
      stdin: z.string().optional().describe('text given on its stdin (then closed)'),
      background: z.boolean().optional().describe('answer at once with its id; it runs on (default false)'),
      wait_seconds: WAIT_SECONDS,
    },
    outputSchema: RUN_OUTPUT,
    annotations: { destructiveHint: true, openWorldHint: true },
  }, guarded(async (a, extra) => {
    const hasCommand = a.command !== undefined && a.command.trim() !== '';
    const hasArgv = a.argv !== undefined && a.argv.length > 0;
    if (hasCommand === hasArgv) throw new ZmxError('EINVAL', hasCommand ? 'give command or argv, not both' : 'give command (a shell script) or argv (a program and its arguments)');
    const t = await tracker.start({
      ...(hasArgv ? { argv: a.argv! } : { shell: a.command! }),
      cwd: a.cwd ?? '',
      timeoutMs: Math.round((a.timeout_seconds ?? RUN_DEFAULT_TIMEOUT_S) * 1000),
      ...(a.stdin !== undefined ? { stdin: Buffer.from(a.stdin, 'utf8') } : {}),
    });
    await waitWithProgress(tracker, t, a.background ? 0 : a.wait_seconds ?? RUN_WAIT_S, extra);
    // The agent gave up on the call: end the command rather than leave it running unseen.
    if (extra.signal.aborted && !t.result) await tracker.kill(t, 'SIGTERM').catch(() => {});
    return outcome(t);
  }));

  const id = z.number().int().min(1).describe('the id run_command answered');

  server.registerTool('command_wait', {
    title: 'Wait for a command',
    description: `Waits up to \`wait_seconds\` (default ${RUN_WAIT_S}) for a command run_command started (by its id) to end, and answers as run_command does: the exit code and the end of stdout and stderr, or running: true if it still runs (call again to wait more). Progress notifications carry its output meanwhile when asked for.`,
    inputSchema: { id, wait_seconds: WAIT_SECONDS },
    outputSchema: RUN_OUTPUT,
    annotations: { readOnlyHint: true },
  }, guarded(async (a, extra) => {
    const t = tracker.get(a.id);
    await waitWithProgress(tracker, t, a.wait_seconds ?? RUN_WAIT_S, extra);
    return outcome(t);
  }));

  server.registerTool('command_output', {
    title: 'Show a command\'s output',
    description: `Answers at once with what a command run_command started (by its id) has printed so far (the end of stdout and stderr, at most ${RUN_MAX_STREAM_BYTES} bytes each) and whether it still runs, as run_command does.`,
    inputSchema: { id },
    outputSchema: RUN_OUTPUT,
    annotations: { readOnlyHint: true },
  }, guarded(async (a) => outcome(tracker.get(a.id))));

  server.registerTool('command_kill', {
    title: 'End a command',
    description: 'Sends a signal (default SIGTERM) to the whole process group of a command run_command started, by its id; after SIGTERM, SIGINT, SIGHUP or SIGQUIT the group gets SIGKILL 2 s later if it is still there. Then command_wait gives how it ended.',
    inputSchema: {
      id,
      signal: z.enum(SIGNALS).optional().describe('the signal (default SIGTERM)'),
    },
    annotations: { destructiveHint: true },
  }, guarded(async (a) => {
    const t = tracker.get(a.id);
    if (t.result) return textResult(`command ${t.id} has already ended (${t.result.signal ? `killed by ${t.result.signal}` : `exit code ${t.result.exitCode}`})`);
    const signal = a.signal ?? 'SIGTERM';
    await tracker.kill(t, signal);
    return textResult(`sent ${signal} to command ${t.id}; command_wait {"id": ${t.id}} gives how it ends`);
  }));
}
