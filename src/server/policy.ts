/**
 * What each op needs of a client's key: one of the operations a key may be
 * allowed (authorized_keys.json `allow`), and whether it changes anything
 * (refused for a read-only key). A table over every op, so a new op cannot
 * be added without deciding.
 */
import { ZmxError } from '../common/errors.js';
import type { OpName } from '../common/protocol.js';
import type { KeyLimits, Operation } from '../common/portal.js';

/** Who asks: the connection (uploads and watches die with it) and the key (commands outlive a connection). */
export interface Caller {
  /** The connection's routing id (hex). */
  client: string;
  /** The key's fingerprint, or 'local' when the server checks no keys. */
  key: string;
  /** The key's name in authorized_keys.json. */
  who: string;
  limits: KeyLimits;
}

/** The ops the portal router answers (the front hands them over after authorizing). */
export const PORTAL_OPS: ReadonlySet<OpName> = new Set<OpName>([
  'fs.read', 'fs.readFiles', 'fs.write', 'fs.upload.begin', 'fs.upload.chunk', 'fs.upload.commit', 'fs.upload.abort', 'fs.edit',
  'fs.stat', 'fs.list', 'fs.grep', 'fs.mkdir', 'fs.rm', 'fs.mv', 'fs.watch', 'fs.unwatch',
  'exec.start', 'exec.read', 'exec.stdin', 'exec.kill', 'exec.list', 'audit.read',
]);

interface Need {
  /** null: any authorized key (listing sessions, server info). */
  op: Operation | null;
  /** Changes a session, a file or the server: refused for a read-only key. */
  writes: boolean;
  /** Not written to the audit log when it succeeds (polls and chunks of a logged whole); a refusal always is. */
  quiet?: boolean;
}

const R = (op: Operation | null, quiet = false): Need => ({ op, writes: false, quiet });
const W = (op: Operation, quiet = false): Need => ({ op, writes: true, quiet });

export const NEEDS: Record<OpName, Need> = {
  'server.info': R(null, true),
  'server.stop': W('admin'),
  'server.upgrade': W('admin'),
  'server.pair': W('admin'),
  'pair.claim': R(null),
  'session.list': R(null, true),
  'session.get': R(null, true),
  'session.create': W('pty'),
  'session.kill': W('pty'),
  'session.labels': W('pty'),
  'session.send': W('pty'),
  'session.print': W('pty'),
  'session.history': R('pty'),
  'session.run': W('pty'),
  'session.wait': R('pty', true),
  'session.detach': W('pty'),
  'session.write': W('fs.write'),
  // A read-only key may watch: its attach is made read-only rather than refused (front.ts).
  'session.attach': R('pty'),
  'pane.subscribe': R('pty', true),
  'pane.split': W('pty'),
  'window.new': W('pty'),
  'pane.select': W('pty'),
  'window.select': W('pty'),
  'pane.kill': W('pty'),
  'pane.resize': W('pty'),
  'window.layout': W('pty'),
  'pane.capture': R('pty'),
  'session.tail': R('pty'),
  'session.switch': W('pty'),
  // Internal: refused before any of this is asked.
  'host.subscribe': W('admin'),
  'host.unsubscribe': W('admin'),
  'host.resize': W('admin'),
  'host.input': W('admin'),
  'host.snapshot': W('admin'),
  'host.grant': W('admin'),
  'host.release': W('admin'),
  'host.handover': W('admin'),
  'host.handover.commit': W('admin'),
  'host.lead': W('admin'),
  'host.exec.start': W('admin'),
  'host.exec.read': W('admin'),
  'host.exec.stdin': W('admin'),
  'host.exec.kill': W('admin'),
  'host.exec.list': W('admin'),
  'host.exec.ack': W('admin'),
  // Served only on the pty host's direct endpoint; the front refuses them.
  'stream.claim': R('pty', true),
  'stream.resume': R('pty', true),
  'workspace.create': W('pty'),
  'workspace.kill': W('pty'),
  'workspace.snapshot': W('fs.write'),
  'workspace.rollback': W('fs.write'),
  'workspace.diff': R('fs.read'),
  'workspace.snapshots': R('fs.read', true),
  'fs.read': R('fs.read'),
  'fs.readFiles': R('fs.read'),
  'fs.write': W('fs.write'),
  'fs.upload.begin': W('fs.write', true),
  'fs.upload.chunk': W('fs.write', true),
  'fs.upload.commit': W('fs.write'),
  'fs.upload.abort': W('fs.write'),
  'fs.edit': W('fs.write'),
  'fs.stat': R('fs.read'),
  'fs.list': R('fs.read'),
  'fs.grep': R('fs.read'),
  'fs.mkdir': W('fs.write'),
  'fs.rm': W('fs.write'),
  'fs.mv': W('fs.write'),
  'fs.watch': R('fs.read'),
  'fs.unwatch': R('fs.read', true),
  'exec.start': W('exec', true), // logged when it ends, with its status and output size
  'exec.read': R('exec', true),
  'exec.stdin': W('exec', true),
  'exec.kill': W('exec'),
  'exec.list': R('exec', true),
  'audit.read': R('admin', true),
};

/** Throws EDENIED unless a key with these limits may perform `op`. */
export function authorize(op: OpName, limits: KeyLimits): void {
  const need = NEEDS[op];
  if (need.op && !limits.allow.includes(need.op)) {
    throw new ZmxError('EDENIED', `this key may not ${op} (it lacks "${need.op}"; on the server: zmx keys authorize KEY --allow ${[...limits.allow, need.op].join(',')})`);
  }
  if (need.writes && limits.readOnly) throw new ZmxError('EDENIED', `this key is read-only: ${op} is refused`);
}

/** Whether a successful op goes to the audit log. */
export function isAudited(op: OpName): boolean {
  return !NEEDS[op].quiet;
}
