/**
 * Pty host process entry. Started (detached) by the front; holds every
 * session's pty and terminal state. It outlives the front: killing the
 * front with SIGKILL ends no session.
 *
 * Its ROUTER is a CurveZMQ server whose ZAP handler admits only the
 * server's public key, which the front uses as its client key. A second
 * ROUTER, the direct endpoint, carries local clients' pane streams once the
 * front has granted them (direct.ts).
 */
import { runtimePaths, ensurePrivateDir } from '../common/paths.js';
import { decode } from '../common/protocol.js';
import { MsgType, encode } from '../common/protocol.js';
import { toZmxError } from '../common/errors.js';
import { ServerEndpoint, ZapHandler, type PeerId } from '../platform/zmq.js';
import { KeyStore, fingerprint } from '../platform/keystore.js';
import { acquireSingleton, signalReady, writePidFile } from '../platform/daemon.js';
import { fileLogger } from '../platform/log.js';
import { rmSync } from 'node:fs';
import { PtyHost } from './host.js';
import { DIRECT_ZAP_DOMAIN } from './direct.js';
import { Outgoing, isHandoverOp, receiveHandover, takeOver } from './handover.js';
import { AuthorizedKeys } from '../platform/authorized.js';
import { verifyHelloProof } from '../common/curve.js';
import { spawnPty } from './pty.js';
import { loadConfig } from '../platform/config-file.js';
import { TERMINAL, scaled } from '../common/constants.js';

/** After the last session ends, wait this long for a new one before exiting. */
const EXIT_EMPTY_GRACE_MS = 1_000;
/** A pty host started for a request that made no session exits after this long (× ZMX_TEST_TIMESCALE). */
const EXIT_UNUSED_MS = scaled(10_000);

async function main(): Promise<void> {
  const paths = runtimePaths();
  ensurePrivateDir(paths.dir);
  // Started by a pty host handing its sessions over (handover.ts): it holds the lock until it lets go.
  const incoming = await receiveHandover();
  let lock = incoming ? null : await acquireSingleton(paths.ptyhostLock);
  if (!incoming && !lock) {
    signalReady(); // another pty host serves this ZMX_DIR
    process.exit(0);
  }
  const log = fileLogger('ptyhost', paths.ptyhostLog);
  const keys = new KeyStore();
  const own = keys.loadOrCreate('ptyhost');
  const frontKey = keys.publicKeyOrCreate('server');

  // ptyhost.sock admits only the front's key; direct.sock the keys the front
  // admits (authorized_keys.json). A claim there also proves its key, and
  // the front granted the stream to that key alone.
  const authorized = new AuthorizedKeys();
  const zap = new ZapHandler(
    (key, _identity, domain) => (domain === DIRECT_ZAP_DOMAIN ? authorized.find(key) !== null : key === frontKey),
    (key, ok, _identity, domain) => {
      if (!ok) log.warn({ fingerprint: fingerprint(key), domain }, domain === DIRECT_ZAP_DOMAIN ? 'refused a key that is not authorized' : 'refused a key that is not the front');
    },
  );
  await zap.start();

  let front: PeerId | null = null;
  let hadSessions = false;
  let exitTimer: NodeJS.Timeout | null = null;
  const endpoint: ServerEndpoint = new ServerEndpoint({
    endpoints: [paths.ptyhostEndpoint],
    secretKey: own.secretKey,
    onMessage: (peer, frames) => {
      let msg;
      try {
        msg = decode(frames);
      } catch (err) {
        const e = toZmxError(err);
        endpoint.send(peer, encode({ t: MsgType.Error, id: 0, code: e.code, message: e.message }));
        return;
      }
      if (outgoing.handedOver) return;
      if (msg.header.t === MsgType.Hello) front = peer;
      if (!front || !front.equals(peer)) {
        endpoint.send(peer, encode({ t: MsgType.Error, id: 0, code: 'EPROTO', message: 'say hello first' }));
        return;
      }
      if (msg.header.t === MsgType.Request && isHandoverOp(msg.header.op)) outgoing.request(msg.header);
      else host.handle(msg);
    },
  });
  const direct: ServerEndpoint = new ServerEndpoint({
    endpoints: [paths.directEndpoint],
    secretKey: own.secretKey,
    zapDomain: DIRECT_ZAP_DOMAIN,
    onMessage: (peer, frames) => host.direct.handle(peer, frames),
  });
  const host = new PtyHost({
    spawn: spawnPty,
    scrollback: historyLimit,
    send: (frames) => { if (front) endpoint.send(front, frames); },
    direct: {
      send: (peer, frames) => direct.send(peer, frames),
      // Still authorized now, not only when ZAP admitted the connection: a key
      // revoked since must not claim a stream the front has not released yet.
      verifyKey: (key, proof, ts) => authorized.find(key) !== null && verifyHelloProof(key, proof, ts, own.secretKey, Date.now()),
    },
    log: (m) => log.info(m),
    onSessionsChanged: () => checkEmpty(),
  });
  const outgoing = new Outgoing({
    host,
    logPath: paths.ptyhostLog,
    send: (frames) => { if (front) endpoint.send(front, frames); },
    log: (m) => log.info(m),
    // The next pty host takes the endpoints, the lock and the pid file.
    letGo: async () => {
      if (exitTimer) { clearTimeout(exitTimer); exitTimer = null; }
      front = null;
      await direct.dispose();
      await endpoint.dispose();
      await zap.dispose();
      lock?.close();
    },
    reaped: () => {
      log.info('every program handed over has ended: the reaper exits');
      process.exit(0);
    },
  });
  if (incoming) {
    try {
      await takeOver(host, incoming, historyLimit());
    } catch (err) {
      log.error({ err: String((err as Error)?.stack ?? err) }, 'could not take the sessions over');
      process.exit(1); // the old pty host keeps them
    }
    lock = await acquireSingleton(paths.ptyhostLock);
    if (!lock) {
      log.error('the pty host lock is taken: another pty host runs here');
      process.exit(1);
    }
    log.info({ sessions: host.sessionCount }, 'took the sessions over');
  } else {
    // Sessions die with the pty host: copies and portal files of an earlier one are stale.
    host.clearStaleState();
  }

  function checkEmpty(): void {
    if (outgoing.handedOver) return; // a reaper: it exits when its last program has
    if (host.sessionCount > 0) {
      hadSessions = true;
      if (exitTimer) { clearTimeout(exitTimer); exitTimer = null; }
      return;
    }
    if (!exitTimer) {
      exitTimer = setTimeout(() => {
        exitTimer = null;
        if (host.sessionCount === 0) void shutdown(hadSessions ? 'no sessions left' : 'no session was made');
      }, hadSessions ? EXIT_EMPTY_GRACE_MS : EXIT_UNUSED_MS);
    }
  }

  let stopping = false;
  async function shutdown(why: string): Promise<void> {
    if (stopping) return;
    stopping = true;
    if (outgoing.handedOver) {
      // A reaper: the programs are the next pty host's; they run on (their end is then unknown there).
      log.info({ why }, 'reaper stopping');
      process.exit(0);
    }
    log.info({ why }, 'pty host stopping');
    await host.shutdown();
    await direct.dispose();
    await endpoint.dispose();
    await zap.dispose();
    rmSync(paths.ptyhostPid, { force: true });
    lock?.close();
    process.exit(0);
  }

  await direct.bind();
  await endpoint.bind();
  writePidFile(paths.ptyhostPid);
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGHUP', () => { /* no terminal to lose: ignore */ });
  process.on('uncaughtException', (err) => log.error({ err }, 'uncaught exception'));
  log.info({ pid: process.pid }, 'pty host ready');
  checkEmpty();
  signalReady();
}

main().catch((err) => {
  process.stderr.write(`zmx ptyhost: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

/**
 * History per new pane from `zmx config` (history-limit), read afresh for
 * each pane so `zmx set history-limit N` applies to the next session without
 * a restart; the default when the config cannot be read (the client reports
 * a broken file to the user).
 */
function historyLimit(): number {
  try {
    return loadConfig()['history-limit'];
  } catch {
    return TERMINAL.scrollbackLines;
  }
}
