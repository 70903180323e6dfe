/**
 * Front process entry: the CurveZMQ ROUTER clients talk to. Started in the
 * background by the first command that needs a server (per ZMX_DIR); starts
 * the pty host if none runs, and reconnects to one that survived it.
 */
import { entryPath } from '../common/entries.js';
import { rmSync, unwatchFile, watchFile } from 'node:fs';
import { runtimePaths, ensurePrivateDir } from '../common/paths.js';
import { TIMING } from '../common/constants.js';
import { ServerEndpoint, ClientLink, ZapHandler } from '../platform/zmq.js';
import { KeyStore, fingerprint } from '../platform/keystore.js';
import { acquireSingleton, isAlive, readPid, signalReady, spawnDaemon, writePidFile } from '../platform/daemon.js';
import { fileLogger } from '../platform/log.js';
import { AuthorizedKeys } from '../platform/authorized.js';
import { Front } from './front.js';
import { VERSION } from '../common/version.js';
import { loadConfig } from '../platform/config-file.js';
import { withDefaults } from '../common/config.js';
import { readListen } from '../platform/listen.js';
import { Pairing, PAIRING_DOMAIN } from './pairing.js';
import { verifyHelloProof } from '../common/curve.js';
import { AuditLog } from '../portal/audit.js';
import { PortalRouter } from './portal-router.js';

const PTYHOST_SCRIPT = entryPath('ptyhost');
/** How often the front checks client heartbeats and the pty host's pid. */
const TICK_MS = 1_000;
/** How often authorized_keys.json is checked for changes: a revoked key's connections are cut within this. */
const KEYS_POLL_MS = 250;

async function main(): Promise<void> {
  const paths = runtimePaths();
  ensurePrivateDir(paths.dir);
  const lock = await acquireSingleton(paths.frontLock);
  if (!lock) {
    signalReady(); // another front serves this ZMX_DIR
    process.exit(0);
  }
  const log = fileLogger('front', paths.frontLog);
  const keys = new KeyStore();
  const serverKeys = keys.loadOrCreate('server');
  const clientKey = keys.publicKeyOrCreate('client');
  const authorized = new AuthorizedKeys();
  if (!authorized.find(clientKey)) {
    // First start: the local user may use the local server.
    authorized.add({ key: clientKey, name: 'local user', root: null, allow: ['fs.read', 'fs.write', 'exec', 'pty', 'admin'], readOnly: false });
    log.info({ fingerprint: fingerprint(clientKey) }, 'authorized the local user key');
  }

  async function ensurePtyhost(): Promise<number> {
    const pid = readPid(paths.ptyhostPid);
    if (isAlive(pid)) return pid!;
    log.info('starting the pty host');
    await spawnDaemon(PTYHOST_SCRIPT, paths.ptyhostLog, TIMING.serverStartTimeoutMs);
    return readPid(paths.ptyhostPid) ?? 0;
  }
  let ptyhostPid = await ensurePtyhost();
  const ptyhostKey = keys.publicKeyOrCreate('ptyhost');
  /** Whether the link to the pty host is up: checked before each request, so it must be cheap. */
  let hostLinkUp = false;

  // An authorized key, on a connection naming itself (its routing id), is
  // admitted; the front then knows which key each connection uses.
  const zap = new ZapHandler((key, identity, domain) => (domain === PAIRING_DOMAIN ? pairing?.admits() ?? false : authorized.find(key) !== null), (key, ok) => {
    if (!ok) log.warn({ fingerprint: fingerprint(key) }, 'refused a key');
  });
  await zap.start();

  const host = new ClientLink({
    endpoint: paths.ptyhostEndpoint,
    curve: { serverKey: ptyhostKey, publicKey: serverKeys.publicKey, secretKey: serverKeys.secretKey },
    onMessage: (frames) => front.onHostMessage(frames),
    onConnectionChange: (up) => {
      hostLinkUp = up;
      if (up) front.hostConnected();
    },
  });
  const listen = readListen(paths.listenFile);
  const pairing = listen.length
    ? new Pairing({
      listen: listen[0]!,
      serverPublicKey: serverKeys.publicKey,
      authorize: (key, name) => authorized.add({ key, name, root: null, allow: ['fs.read', 'fs.write', 'exec', 'pty', 'admin'], readOnly: false }),
      log: (msg, extra) => log.info(extra ?? {}, msg),
    })
    : null;
  const endpoint = new ServerEndpoint({
    endpoints: [paths.frontEndpoint, ...listen],
    secretKey: serverKeys.secretKey,
    onMessage: (peer, frames) => front.onClientMessage(peer, frames),
  });
  const settings = (() => {
    try {
      return loadConfig();
    } catch {
      return withDefaults({}); // a broken config is reported to the user by the client; the server keeps serving
    }
  })();
  const audit = new AuditLog(paths.auditLog, { maxBytes: settings['audit-max-bytes'], files: settings['audit-files'] });
  const portal = new PortalRouter({
    sessionRoot: (name) => front.sessionRoot(name),
    session: (name) => front.session(name),
    sessionNames: () => front.sessionNames(),
    sendEvent: (client, change) => front.sendChange(client, change),
    host: (op, args, frames) => front.host(op, args, frames),
    audit,
    log: (msg, extra) => log.info(extra ?? {}, msg),
    searchDeadlineMs: settings['search-timeout'] * 1000,
  });
  const front: Front = new Front({
    portal,
    audit: (entry) => audit.append(entry),
    auditedEnd: (end) => audit.hasRecent('end', end),
    limitsOf: (key) => {
      const k = authorized.find(key);
      return k ? { name: k.name, limits: { root: k.root, allow: k.allow, readOnly: k.readOnly } } : null;
    },
    sendToClient: (peer, frames) => endpoint.send(peer, frames),
    direct: { endpoint: paths.directEndpoint, serverKey: ptyhostKey },
    upgrade: { script: PTYHOST_SCRIPT, alive: (pid) => isAlive(pid), newHost: (pid) => { ptyhostPid = pid; } },
    sendToHost: (frames) => host.send(frames),
    info: () => ({ version: VERSION, pid: process.pid, ptyhostPid, endpoints: [paths.frontEndpoint, ...listen] }),
    isAuthorized: (key) => authorized.find(key) !== null,
    verifyKey: (key, proof, ts) => verifyHelloProof(key, proof, ts, serverKeys.secretKey, Date.now()),
    ...(pairing ? { pair: () => pairing.start() } : {}),
    log: (msg, extra) => log.info(extra ?? {}, msg),
    stop: () => void shutdown('server.stop'),
    // The link drops the moment the pty host exits; only then is its pid worth checking.
    wakeHost: () => { if (!hostLinkUp && !respawning && !isAlive(ptyhostPid)) restartHost(); },
    // Read when sizes are applied, so `zmx config set size-policy` takes effect without a restart.
    sizePolicy: () => {
      try {
        return loadConfig()['size-policy'];
      } catch {
        return 'latest'; // a broken config is reported to the user by the client; the server keeps serving
      }
    },
  });

  host.connect();
  front.helloHost();
  try {
    await endpoint.bind();
  } catch (err) {
    // A port in use, an address not on this machine: say so where `server start` looks.
    log.error({ err: String(err), listen }, 'could not bind');
    process.stderr.write(`zmx: could not listen on ${listen.join(', ') || paths.frontEndpoint}: ${(err as Error).message}\n`);
    process.exit(1);
  }
  if (listen.length) log.info({ listen, fingerprint: fingerprint(serverKeys.publicKey) }, 'listening');
  // `zmx keys revoke` edits the file: cut the revoked key's live connections at once.
  watchFile(authorized.path, { interval: KEYS_POLL_MS }, () => front.recheckKeys());
  writePidFile(paths.frontPid);

  let respawning = false;
  function restartHost(): void {
    if (respawning) return;
    respawning = true;
    front.hostLost();
    ensurePtyhost().then((pid) => {
      ptyhostPid = pid;
      front.helloHost();
    }).catch((err) => log.error({ err: String(err) }, 'could not restart the pty host')).finally(() => { respawning = false; });
  }
  let hostDown = false;
  const ticker = setInterval(() => {
    front.tick();
    if (respawning || isAlive(ptyhostPid)) {
      hostDown = false;
      return;
    }
    // The pty host ended (its last session did). A request will start a new
    // one; with no client left, a local front ends too. A front listening on
    // TCP stays: a remote client cannot start it again (`zmx server start
    // --listen` then `zmx pair` would otherwise be gone 10 s later, before
    // anyone typed the code).
    if (!hostDown) {
      hostDown = true;
      front.hostLost();
    }
    if (front.clientCount === 0 && listen.length === 0) void shutdown('the pty host has ended and no client is connected');
  }, TICK_MS);

  let stopping = false;
  async function shutdown(why: string): Promise<void> {
    if (stopping) return;
    stopping = true;
    log.info({ why }, 'front stopping');
    clearInterval(ticker);
    unwatchFile(authorized.path);
    await pairing?.close();
    await endpoint.dispose();
    await portal.dispose();
    audit.dispose();
    await host.dispose();
    await zap.dispose();
    rmSync(paths.frontPid, { force: true });
    lock!.close();
    process.exit(0);
  }
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGHUP', () => {});
  process.on('uncaughtException', (err) => log.error({ err: String(err?.stack ?? err) }, 'uncaught exception'));
  log.info({ pid: process.pid, ptyhostPid }, 'front ready');
  signalReady();
}

main().catch((err) => {
  process.stderr.write(`zmx server: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
