/**
 * The same 20 reads and a command over a network with 50 ms each
 * way (a delay proxy in front of sshd, and in front of zmx's TCP listener):
 * what round trips cost, one call per file or all in one.
 */
import type { Measure } from '../lib/measure.js';
import { Cleanup } from '../lib/procs.js';
import { DelayProxy } from '../lib/proxy.js';
import { FILE_COUNT, PortalClient, makeWorld, type World } from '../lib/portal.js';
import { portalContenders, REPEATS, REPEATS_QUICK } from './portal-reads.js';

/** Delay added to every chunk in each direction (a 100 ms round trip). */
const DELAY_MS = 50;
/** Host names that reach sshd and zmx through the proxy. */
const SLOW = 'slow';

export const portalRtt: Measure = {
  id: 'portal-rtt',
  title: `Agent file workload, ${DELAY_MS * 2} ms round trip`,
  how: `As "Agent file workload, this machine", but every byte goes through a TCP proxy in the bench that delays each chunk ${DELAY_MS} ms in each direction (order kept), placed in front of sshd and of zmx's CurveZMQ listener (\`zmx server start --listen\`; the client is paired, and \`zmx host add\` points a host at the proxy). The ssh ControlMaster connection and the zmx client connection are opened through the proxy before timing. zmx sequential is ${FILE_COUNT} fs.read requests then exec; pipelined is one fs.readFiles with ${FILE_COUNT} paths while exec runs. A round's value is the median of ${REPEATS} runs (--quick: ${REPEATS_QUICK}; the CLI contender as there, and not in --quick).`,
  metrics: [{ key: 'ms', label: 'workload', unit: 'ms' }],
  maxRounds: 3,
  maxRoundsQuick: 1,
  contenders(opts) {
    let world: Promise<World> | null = null;
    let cleanup: Cleanup;
    let sshProxy: DelayProxy | null = null;
    let zmxProxy: Promise<number> | null = null;
    const get = () => (world ??= makeWorld(cleanup, !opts.missing['sshd']));
    const zmxPort = (w: World) => (zmxProxy ??= (async () => {
      const p = new DelayProxy(Number(w.address.split(':').pop()), DELAY_MS);
      const port = await p.start(cleanup);
      await w.client.zmxOk(['host', 'add', SLOW, `tcp://127.0.0.1:${port}`, '--key', w.serverKey]);
      return port;
    })());
    const contenders = portalContenders(opts, get, {
      sshHost: async (w) => {
        if (!sshProxy) {
          sshProxy = new DelayProxy(w.sshd!.port, DELAY_MS);
          w.sshd!.addHost(SLOW, await sshProxy.start(cleanup));
          await w.sshd!.master(SLOW);
        }
        return SLOW;
      },
      zmxEndpoint: async (w, c) => PortalClient.over(c, w, `tcp://127.0.0.1:${await zmxPort(w)}`),
      zmxCliHost: async (w) => { await zmxPort(w); return SLOW; },
      cliInQuick: false,
    });
    // Whichever contender sets up first makes the world, with the measure's cleanup.
    for (const c of contenders) {
      const own = c.setup;
      c.setup = async (cl) => { cleanup = cl; await own?.(cl); };
    }
    return contenders;
  },
};
