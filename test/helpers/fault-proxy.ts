/**
 * A fault-injecting TCP proxy on loopback, for the resilience tests: it
 * forwards 127.0.0.1:port to a target and can add delay, cut every
 * connection at once, or black-hole traffic for a while (bytes are held,
 * not lost, as a stalled network holds them; connections made meanwhile
 * are accepted and held too).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

interface Pair {
  client: Socket;
  upstream: Socket;
}

export class FaultProxy {
  private readonly server: Server;
  private readonly pairs = new Set<Pair>();
  private delayMs = 0;
  private holding = false;
  /** Bytes held while black-holed, per direction, to release in order. */
  private readonly held: { to: Socket; data: Buffer }[] = [];
  /** Connections cut so far. */
  cuts = 0;
  /** Connections accepted so far. */
  accepted = 0;
  port = 0;

  constructor(private readonly targetPort: number, private readonly targetHost = '127.0.0.1') {
    this.server = createServer((client) => this.accept(client));
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as { port: number }).port;
    return `tcp://127.0.0.1:${this.port}`;
  }

  private accept(client: Socket): void {
    this.accepted++;
    const upstream = connect(this.targetPort, this.targetHost);
    const pair: Pair = { client, upstream };
    this.pairs.add(pair);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const forward = (from: Socket, to: Socket) => {
      from.on('data', (data: Buffer) => this.pass(to, data));
    };
    forward(client, upstream);
    forward(upstream, client);
    const close = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', close);
    upstream.on('close', close);
    client.on('error', close);
    upstream.on('error', close);
  }

  private pass(to: Socket, data: Buffer): void {
    if (this.holding) {
      this.held.push({ to, data });
      return;
    }
    if (this.delayMs > 0) setTimeout(() => { if (!to.destroyed) to.write(data); }, this.delayMs);
    else to.write(data);
  }

  /** Adds `ms` to every chunk in each direction (0: none). */
  delay(ms: number): void {
    this.delayMs = ms;
  }

  /** Resets every connection, as a dropped Wi-Fi or a NAT timeout would. */
  cutAll(): number {
    let n = 0;
    for (const { client, upstream } of [...this.pairs]) {
      client.resetAndDestroy();
      upstream.resetAndDestroy();
      n++;
    }
    this.pairs.clear();
    this.cuts += n;
    return n;
  }

  /** Holds all traffic for `ms`, then lets it through in order. */
  async blackhole(ms: number): Promise<void> {
    this.holding = true;
    await new Promise((r) => setTimeout(r, ms));
    this.holding = false;
    for (const { to, data } of this.held.splice(0)) if (!to.destroyed) to.write(data);
  }

  get connections(): number {
    return this.pairs.size;
  }

  async close(): Promise<void> {
    for (const { client, upstream } of this.pairs) {
      client.destroy();
      upstream.destroy();
    }
    this.pairs.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
