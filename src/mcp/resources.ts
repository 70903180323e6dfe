/**
 * Panes as MCP resources: `zmx://SESSION/PANE/screen` (the visible screen)
 * and `zmx://SESSION/PANE/history` (scrollback and screen), as text, for
 * every pane of every session on the server. PANE is the pane's id — the
 * number `zmx ls --json` gives and a pane's own $ZMX_PANE holds — which,
 * unlike a W.P position, stays the pane's while others come and go, so a
 * subscription never slides to another pane. SESSION is percent-encoded.
 *
 * resources/subscribe follows the pane (src/mcp/panes.ts) and sends
 * notifications/resources/updated after it prints, at most once per
 * UPDATE_EVERY_MS per pane; a pane that ends gets one last update (its
 * reads then fail) and its subscription is dropped.
 */
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { McpError, ErrorCode, SubscribeRequestSchema, UnsubscribeRequestSchema, type Resource } from '@modelcontextprotocol/sdk/types.js';
import { ZmxError, toZmxError } from '../common/errors.js';
import { panesOf } from '../common/layout.js';
import type { Backend } from './backend.js';
import type { FollowEnd, PaneView } from './panes.js';

/** A followed pane announces a change at most this often: an agent re-reads on each, and a busy pane (a build) must not flood it. */
export const UPDATE_EVERY_MS = 500;
/** After the link to a followed pane dropped, it is followed again after this long. */
const REFOLLOW_MS = 1_000;
/** A history resource gives at most this much text: the end of it. */
export const HISTORY_MAX_BYTES = 256 * 1024;
/** MCP's error code for a resource that does not exist. */
const RESOURCE_NOT_FOUND = -32002;

const VIEWS: readonly PaneView[] = ['screen', 'history'];

export interface PaneRef { session: string; pane: number; view: PaneView }

export function paneUri(session: string, pane: number, view: PaneView): string {
  return `zmx://${encodeURIComponent(session)}/${pane}/${view}`;
}

/** `zmx://SESSION/PANE/VIEW` back into its parts; EINVAL for anything else. */
export function parsePaneUri(uri: string): PaneRef {
  const m = /^zmx:\/\/([^/]+)\/(\d+)\/([a-z]+)$/.exec(uri);
  const view = m?.[3] as PaneView | undefined;
  let session: string | null = null;
  try {
    if (m) session = decodeURIComponent(m[1]!);
  } catch { /* malformed escapes: not ours */ }
  if (!m || session === null || !view || !VIEWS.includes(view)) {
    throw new ZmxError('EINVAL', `${uri} is not a zmx pane resource: zmx://SESSION/PANE/screen or zmx://SESSION/PANE/history (PANE is the pane's id)`);
  }
  return { session, pane: Number(m[2]), view };
}

/** Cuts a history to its last HISTORY_MAX_BYTES, at a line start, saying how much was left out. */
export function recentHistory(text: string): string {
  if (Buffer.byteLength(text) <= HISTORY_MAX_BYTES) return text;
  const bytes = Buffer.from(text, 'utf8');
  let from = bytes.indexOf(0x0a, bytes.length - HISTORY_MAX_BYTES) + 1;
  if (from <= 0) from = bytes.length - HISTORY_MAX_BYTES;
  const lines = bytes.subarray(0, from).toString('utf8').split('\n').length - 1;
  return `[zmx: the first ${lines} lines are not shown]\n${bytes.subarray(from).toString('utf8')}`;
}

/** A ZmxError as the JSON-RPC error a resources/* request answers. */
function rpcError(err: unknown): McpError {
  const e = toZmxError(err);
  const code = e.code === 'ENOENT' || e.code === 'ENOSESSION' ? RESOURCE_NOT_FOUND : e.code === 'EINVAL' ? ErrorCode.InvalidParams : ErrorCode.InternalError;
  return new McpError(code, `${e.code}: ${e.message}`);
}

/** One followed pane: the views a client subscribed to, and the change not yet announced. */
interface Followed {
  views: Set<PaneView>;
  stop: (() => void) | null;
  timer: NodeJS.Timeout | null;
  /** Output came since the last announcement. */
  dirty: boolean;
}

export class PaneResources {
  private readonly followed = new Map<string, Followed>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private disposed = false;
  /** The backend whose layout events are heard (one listener per backend). */
  private heard: Backend | null = null;

  constructor(private readonly server: McpServer, private readonly backend: () => Promise<Backend>) {
    server.registerResource('pane', new ResourceTemplate('zmx://{session}/{pane}/{view}', { list: () => this.list() }), {
      title: 'A zmx pane',
      description: 'A terminal pane of a zmx session: "screen" is what it shows now, "history" its scrollback and screen (the end of it), as text. PANE is the pane\'s id. Subscribe to hear when it prints.',
      mimeType: 'text/plain',
    }, async (uri) => {
      try {
        const ref = parsePaneUri(uri.href);
        const text = await (await this.backend()).panes.read(ref.session, ref.pane, ref.view);
        return { contents: [{ uri: uri.href, mimeType: 'text/plain', text: ref.view === 'history' ? recentHistory(text) : text }] };
      } catch (err) {
        throw rpcError(err);
      }
    });
    server.server.registerCapabilities({ resources: { subscribe: true, listChanged: true } });
    server.server.setRequestHandler(SubscribeRequestSchema, async (req) => {
      try {
        await this.subscribe(parsePaneUri(req.params.uri));
      } catch (err) {
        throw rpcError(err);
      }
      return {};
    });
    server.server.setRequestHandler(UnsubscribeRequestSchema, async (req) => {
      try {
        this.unsubscribe(parsePaneUri(req.params.uri));
      } catch (err) {
        throw rpcError(err);
      }
      return {};
    });
  }

  /** Every pane of every session, two resources each, in window and pane order. */
  private async list(): Promise<{ resources: Resource[] }> {
    const b = await this.backend().catch(() => null);
    if (!b) return { resources: [] }; // no server: nothing to list (tools say why)
    const resources: Resource[] = [];
    for (const s of await b.sessions()) {
      for (const w of [...s.windows].sort((x, y) => x.index - y.index)) {
        panesOf(w.layout).forEach((id, p) => {
          const info = s.panes.find((x) => x.id === id);
          const what = info ? info.title || info.cmd.join(' ') : '';
          for (const view of VIEWS) {
            resources.push({
              uri: paneUri(s.name, id, view),
              name: `${s.name}:${w.index}.${p} ${view}`,
              title: `${s.name}:${w.index}.${p} (pane ${id})${what ? ` ${what}` : ''}: ${view === 'screen' ? 'screen' : 'scrollback and screen'}`,
              mimeType: 'text/plain',
            });
          }
        });
      }
    }
    return { resources };
  }

  private key(ref: { session: string; pane: number }): string {
    return `${ref.pane}\0${ref.session}`;
  }

  private async subscribe(ref: PaneRef): Promise<void> {
    const key = this.key(ref);
    const known = this.followed.get(key);
    if (known) {
      known.views.add(ref.view);
      return;
    }
    const f: Followed = { views: new Set([ref.view]), stop: null, timer: null, dirty: false };
    this.followed.set(key, f);
    try {
      await this.follow(ref, f);
    } catch (err) {
      if (this.followed.get(key) === f) this.followed.delete(key);
      throw err;
    }
  }

  private unsubscribe(ref: PaneRef): void {
    const key = this.key(ref);
    const f = this.followed.get(key);
    if (!f) return;
    f.views.delete(ref.view);
    if (f.views.size === 0) this.drop(key, f);
  }

  private async follow(ref: { session: string; pane: number }, f: Followed): Promise<void> {
    const b = await this.backend();
    this.hearLayouts(b);
    const stop = await b.panes.follow(ref.session, ref.pane, {
      change: () => this.changed(ref, f),
      end: (why) => this.ended(ref, f, why),
    });
    // Unsubscribed (or shut down) while it opened.
    if (this.followed.get(this.key(ref)) !== f || this.disposed) stop();
    else f.stop = stop;
  }

  /** Announces at most once per UPDATE_EVERY_MS: the first change at once, later ones at the end of the interval. */
  private changed(ref: { session: string; pane: number }, f: Followed): void {
    if (this.followed.get(this.key(ref)) !== f) return; // unsubscribed meanwhile
    if (f.timer) {
      f.dirty = true;
      return;
    }
    this.announce(ref, f);
    const tick = () => {
      if (f.dirty) {
        f.dirty = false;
        this.announce(ref, f);
        f.timer = setTimeout(tick, UPDATE_EVERY_MS);
      } else f.timer = null;
    };
    f.timer = setTimeout(tick, UPDATE_EVERY_MS);
  }

  private announce(ref: { session: string; pane: number }, f: Followed): void {
    for (const view of f.views) this.server.server.sendResourceUpdated({ uri: paneUri(ref.session, ref.pane, view) }).catch(() => {});
  }

  private ended(ref: { session: string; pane: number }, f: Followed, why: FollowEnd): void {
    const key = this.key(ref);
    if (this.followed.get(key) !== f) return;
    f.stop = null;
    if (why === 'gone') {
      // Its last state: a read now says it is gone. The list changed too.
      this.announce(ref, f);
      this.drop(key, f);
      this.server.sendResourceListChanged();
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.followed.get(key) !== f || this.disposed) return;
      this.follow(ref, f).then(() => this.changed(ref, f), (err: unknown) => {
        const code = toZmxError(err).code;
        this.ended(ref, f, code === 'ENOENT' || code === 'ENOSESSION' ? 'gone' : 'lost');
      });
    }, REFOLLOW_MS);
    this.timers.add(timer);
  }

  private drop(key: string, f: Followed): void {
    if (this.followed.get(key) === f) this.followed.delete(key);
    if (f.timer) clearTimeout(f.timer);
    f.timer = null;
    f.stop?.();
    f.stop = null;
  }

  /** A followed session's panes changed: the list did. */
  private hearLayouts(b: Backend): void {
    if (this.heard === b) return;
    this.heard = b;
    b.panes.onLayout(() => { if (this.heard === b && !this.disposed) this.server.sendResourceListChanged(); });
  }

  dispose(): void {
    this.disposed = true;
    for (const t of this.timers) clearTimeout(t);
    for (const [key, f] of [...this.followed]) this.drop(key, f);
  }
}
