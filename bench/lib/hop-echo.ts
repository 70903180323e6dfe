/**
 * The far end of the "One hop" measure, a process of its own: an echo
 * server on zmx's own link (src/platform/zmq.ts: a CurveZMQ ROUTER with a
 * ZAP handler, as the pty host's direct endpoint) or on a Node `net` Unix
 * socket. `node hop-echo.js zmq|net PATH`; for zmq, HOP_KEYS holds the
 * server's secret key and the one client key it admits. Prints "ready" once
 * it listens; ended by pid.
 */
import { createServer } from 'node:net';
import { ServerEndpoint, ZapHandler } from '../../src/platform/zmq.js';

const [kind, path] = process.argv.slice(2);
if (kind === 'net') {
  const server = createServer((socket) => socket.on('data', (d) => socket.write(d)));
  server.listen(path!, () => process.stdout.write('ready\n'));
} else {
  const keys = JSON.parse(process.env['HOP_KEYS'] ?? '{}') as { serverSecret: string; client: string };
  const zap = new ZapHandler((key) => key === keys.client);
  await zap.start();
  const endpoint: ServerEndpoint = new ServerEndpoint({ endpoints: [`ipc://${path}`], secretKey: keys.serverSecret, onMessage: (peer, frames) => endpoint.send(peer, frames) });
  await endpoint.bind();
  process.stdout.write('ready\n');
}
