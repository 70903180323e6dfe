/**
 * An agent's tool call through `zmx mcp`, made by a real MCP client (the
 * SDK's Client over stdio, as an agent runs it): a fresh `zmx mcp` per
 * call (spawn, initialize, read_file), and calls within one running `zmx
 * mcp`, each beside the same read through the bench's in-process client (the
 * difference is what MCP adds). ssh's equivalents: `ssh host cat FILE` on a
 * new connection, and through a ControlMaster.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Contender, Measure } from '../lib/measure.js';
import { alive, childPids, hrms, stopPids, type Cleanup } from '../lib/procs.js';
import { PortalClient, SESSION, makeWorld, zmxCliMissing, type World } from '../lib/portal.js';
import { median } from '../lib/stats.js';
import { ZMX_BIN } from '../lib/zmx.js';

/** Fresh `zmx mcp` processes per round (the round's value is their median). */
const FRESH_CALLS = 3;
const FRESH_CALLS_QUICK = 2;
/** Calls per round within one running `zmx mcp` (and as many in-process reads, alternating). */
const WARM_CALLS = 100;
const WARM_CALLS_QUICK = 30;
/**
 * Untimed calls of both paths before the first round. V8 optimises the hot
 * code of both processes (the SDK's, zmx mcp's, the bench's client) over the
 * first few hundred calls: measured, the overhead was 1.1-1.5 ms over a
 * running server's first 100-300 calls and 0.8 ms from then on. An agent's
 * `zmx mcp` lives for its session, so the goal is about the steady state.
 */
const WARM_UP_CALLS = 300;
const WARM_UP_CALLS_QUICK = 30;
/** The ssh host of the world's sshd, with a ControlMaster opened for the warm contender. */
const SSH_HOST = 'bench';

const FRESH = 'zmx mcp, fresh process: spawn + initialize + read_file';
const WARM = 'zmx mcp, running: read_file';
const SSH_FRESH = 'ssh host cat FILE (new connection)';
const SSH_WARM = 'ssh host cat FILE (ControlMaster)';

/** A `zmx mcp -t SESSION` child and the SDK client talking to it; its processes are ended by pid. */
class McpChild {
  private constructor(private readonly client: Client, private readonly pids: number[], private readonly stderr: () => string) {}

  static async start(world: World): Promise<McpChild> {
    const transport = new StdioClientTransport({ command: ZMX_BIN, args: ['mcp', '-t', SESSION], env: world.server.env as Record<string, string>, cwd: world.server.home, stderr: 'pipe' });
    let stderr = '';
    transport.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
    const client = new Client({ name: 'zmx-bench', version: '0' });
    const pids: number[] = [];
    try {
      await client.connect(transport);
    } catch (err) {
      if (transport.pid) await stopPids([transport.pid, ...childPids(transport.pid)]);
      throw new Error(`zmx mcp did not initialize: ${err instanceof Error ? err.message : String(err)}; stderr: ${stderr.trim().slice(-200)}`);
    }
    // `zmx mcp` runs the MCP server as its child: by the time it answered initialize, it is there.
    if (transport.pid) pids.push(transport.pid, ...childPids(transport.pid));
    return new McpChild(client, pids, () => stderr);
  }

  /** read_file of `path`: its text, or a throw with the tool's error. */
  async read(path: string): Promise<string> {
    const r = (await this.client.callTool({ name: 'read_file', arguments: { path } })) as CallToolResult;
    const text = r.content.map((c) => (c.type === 'text' ? c.text : '')).join('');
    if (r.isError) throw new Error(`read_file ${path}: ${text}; stderr: ${this.stderr().trim().slice(-200)}`);
    return text;
  }

  /** Closes stdin (the SDK's close), then ends by pid whatever is left of both processes. */
  async close(): Promise<void> {
    await this.client.close().catch(() => {});
    await stopPids(this.pids.filter((p) => alive(p)));
  }
}

/** The largest of the world's files: the one every contender reads. */
function pickFile(w: World): { path: string; abs: string; text: string } {
  const path = [...w.files].sort((a, b) => statSync(join(w.root, b)).size - statSync(join(w.root, a)).size)[0]!;
  const abs = join(w.root, path);
  return { path, abs, text: readFileSync(abs, 'utf8') };
}

/** The whole file came back: all its characters and its last line (a tool may add line numbers or a note). */
function check(what: string, got: string, want: string): void {
  const last = want.trimEnd().split('\n').pop() ?? '';
  if (got.length < want.length || !got.includes(last)) throw new Error(`${what} returned ${got.length} chars, not the file's ${want.length} ending ${JSON.stringify(last)}`);
}

export const mcp: Measure = {
  id: 'mcp',
  title: 'MCP tool call',
  how: `A real MCP client (the SDK's \`Client\` with \`StdioClientTransport\`, as an agent runs it) spawns \`zmx mcp -t SESSION\` against the local server; the session's root holds the files of the agent workload, and every contender reads the largest of them whole (checked against the file). "${FRESH}": from spawning \`zmx mcp\` until read_file's result, start-up of both of its processes included (the CLI and the MCP server it runs), ${FRESH_CALLS} per round (--quick: ${FRESH_CALLS_QUICK}), the median; "start" is the part until initialize was answered; each is then closed and its processes ended by pid. "${WARM}": one \`zmx mcp\` kept running and warmed by ${WARM_UP_CALLS} untimed calls of both paths (--quick: ${WARM_UP_CALLS_QUICK}; V8 optimises both processes' hot code over the first few hundred, and an agent's server lives for its session), ${WARM_CALLS} read_file calls per round (--quick: ${WARM_CALLS_QUICK}), each followed by the same read (one \`fs.read\`, as read_file makes for a file this size) through the bench's in-process client on the same server; "the op in-process" is the median of those, and "MCP overhead" is the median call minus it. ssh reads the file from the throwaway sshd on 127.0.0.1 (see the agent workload): \`ssh host cat FILE\` on a new connection each time, as many times as the fresh contender; and through one ControlMaster connection opened before timing, as many times as the warm one.`,
  metrics: [
    { key: 'ms', label: 'tool call', unit: 'ms' },
    { key: 'startMs', label: 'start', unit: 'ms', ratio: false },
    { key: 'opMs', label: 'the op in-process', unit: 'ms', ratio: false },
    { key: 'overhead', label: 'MCP overhead', unit: 'ms', ratio: false },
  ],
  goals: [
    { id: 'mcp-fresh', short: 'MCP call, fresh zmx mcp', what: 'MCP tool call through a fresh `zmx mcp` (spawn + initialize + read_file) vs `ssh host cat` on a new connection', metric: 'ms', zmx: FRESH, peer: SSH_FRESH },
    { id: 'mcp-overhead', short: 'MCP overhead per call, running zmx mcp', what: 'MCP overhead per tool call within one running `zmx mcp` (read_file minus the same read in-process)', metric: 'overhead', zmx: WARM, max: 1 },
  ],
  contenders(opts) {
    const freshCalls = opts.quick ? FRESH_CALLS_QUICK : FRESH_CALLS;
    const warmCalls = opts.quick ? WARM_CALLS_QUICK : WARM_CALLS;
    const warmUpCalls = opts.quick ? WARM_UP_CALLS_QUICK : WARM_UP_CALLS;
    const zmxSkip = zmxCliMissing(opts.zmxCommands, 'mcp', 'fs');
    const sshMissing = opts.missing['sshd'] ?? opts.missing['ssh'];
    const sshSkip = sshMissing && `not run: ${sshMissing}`;
    let world: Promise<World> | null = null;
    let w: World;
    let file: ReturnType<typeof pickFile>;
    const setup = async (cleanup: Cleanup) => {
      w = await (world ??= makeWorld(cleanup, !opts.missing['sshd']));
      file = pickFile(w);
    };
    let warm: McpChild;
    let portal: PortalClient;
    let mastered: Promise<void> | null = null;
    const contenders: Contender[] = [
      {
        name: FRESH, zmx: true, versus: [SSH_FRESH], skip: zmxSkip,
        setup,
        async sample(_round, cleanup) {
          const total: number[] = [];
          const start: number[] = [];
          for (let i = 0; i < freshCalls; i++) {
            const local = cleanup.child();
            try {
              const t0 = hrms();
              const child = await McpChild.start(w);
              local.defer('zmx mcp', () => child.close());
              start.push(hrms() - t0);
              const text = await child.read(file.path);
              total.push(hrms() - t0);
              check('read_file', text, file.text);
            } finally { await local.close(); }
          }
          return { ms: median(total), startMs: median(start) };
        },
      },
      {
        name: SSH_FRESH, zmx: false, skip: sshSkip,
        async setup(c) { await setup(c); if (!w.sshd) throw new Error(`sshd: ${w.sshdError}`); },
        async sample() {
          const times: number[] = [];
          for (let i = 0; i < freshCalls; i++) {
            const t0 = hrms();
            const text = await w.sshd!.ssh(SSH_HOST, `cat ${file.abs}`, { fresh: true });
            times.push(hrms() - t0);
            check('ssh cat', text, file.text);
          }
          return { ms: median(times) };
        },
      },
      {
        name: WARM, zmx: true, versus: [SSH_WARM], skip: zmxSkip,
        async setup(cleanup) {
          await setup(cleanup);
          warm = await McpChild.start(w);
          cleanup.defer('zmx mcp', () => warm.close());
          portal = await PortalClient.local(w);
          // Untimed calls of each: the connection and both code paths are warm.
          for (let i = 0; i < warmUpCalls; i++) {
            check('read_file', await warm.read(file.path), file.text);
            await portal.read(file.path);
          }
        },
        async sample() {
          const calls: number[] = [];
          const ops: number[] = [];
          for (let i = 0; i < warmCalls; i++) {
            let t0 = hrms();
            const text = await warm.read(file.path);
            calls.push(hrms() - t0);
            check('read_file', text, file.text);
            t0 = hrms();
            const data = await portal.read(file.path);
            ops.push(hrms() - t0);
            check('fs.read', data.toString('utf8'), file.text);
          }
          const ms = median(calls);
          const opMs = median(ops);
          return { ms, opMs, overhead: ms - opMs };
        },
      },
      {
        name: SSH_WARM, zmx: false, skip: sshSkip,
        async setup(c) {
          await setup(c);
          if (!w.sshd) throw new Error(`sshd: ${w.sshdError}`);
          await (mastered ??= w.sshd.master(SSH_HOST));
        },
        async sample() {
          const times: number[] = [];
          for (let i = 0; i < warmCalls; i++) {
            const t0 = hrms();
            const text = await w.sshd!.ssh(SSH_HOST, `cat ${file.abs}`);
            times.push(hrms() - t0);
            check('ssh cat', text, file.text);
          }
          return { ms: median(times) };
        },
      },
    ];
    return contenders;
  },
};
