/**
 * A TCP proxy on loopback that delays every chunk by a fixed time in each
 * direction (order kept): a network with a round trip of twice that.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { Cleanup } from './procs.js';

export class DelayProxy {
  private readonly sockets = new Set<Socket>();
  private server!: Server;
  port = 0;

  constructor(readonly upstreamPort: number, readonly delayMs: number) {}

  async start(cleanup: Cleanup): Promise<number> {
    this.server = createServer((client) => {
      const upstream = connect(this.upstreamPort, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.setNoDelay(true);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => { client.destroy(); upstream.destroy(); });
      }
      this.pipe(client, upstream);
      this.pipe(upstream, client);
    });
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as { port: number }).port;
    cleanup.defer('delay proxy', () => this.stop());
    return this.port;
  }

  /** Each chunk from `from` reaches `to` delayMs later; so does the end. */
  private pipe(from: Socket, to: Socket): void {
    from.on('data', (chunk: Buffer) => { setTimeout(() => { if (!to.destroyed) to.write(chunk); }, this.delayMs); });
    from.on('end', () => { setTimeout(() => { if (!to.destroyed) to.end(); }, this.delayMs); });
  }

  stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
