/**
 * Small pieces the file service (fs.ts) and the search worker (search.ts)
 * share: whole reads and writes at an offset, lstat to FileStat, and OS
 * errors turned into messages that name the path as the client gave it.
 */
import type { Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { ZmxError, toZmxError } from '../common/errors.js';
import type { FileStat, FileType } from '../common/portal.js';
import { noteTraffic } from '../platform/memory.js';
import { show } from './root.js';

/** Directories list and grep do not enter unless asked (`all`), nor a recursive watch below its top. */
export const SKIPPED_DIRS: ReadonlySet<string> = new Set(['.git', 'node_modules']);

/** The temp files write and uploads make (`.NAME.zmx-HEX.tmp`): watches do not report them. */
export const TEMP_NAME = /^\.[\s\S]*\.zmx-[0-9a-f]+\.tmp$/;

/**
 * Up to `length` bytes at `position` (fewer at the end of the file). The
 * buffer is garbage once its reply is sent: counted as traffic, so a
 * download's chunks are collected as a received upload's are (memory.ts).
 */
export async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  noteTraffic(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got === length ? buf : buf.subarray(0, got);
}

export async function writeAt(fh: FileHandle, position: number, data: Buffer): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await fh.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}

function fileType(st: Stats): FileType {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  return 'other';
}

export function fileStat(rel: string, st: Stats): FileStat {
  return { path: rel, type: fileType(st), size: st.size, mode: st.mode & 0o7777, mtimeMs: st.mtimeMs };
}

/** An OS error as a ZmxError whose message names the path as the client gave it, not the server's. */
export function osError(err: unknown, shown: string): ZmxError {
  if (err instanceof ZmxError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const s = show(shown);
  switch (code) {
    case 'ENOENT': return new ZmxError('ENOENT', `${s} does not exist`);
    case 'ENOTDIR': return new ZmxError('ENOENT', `a parent of ${s} is not a directory`);
    case 'EEXIST': return new ZmxError('EEXIST', `${s} exists already`);
    case 'EISDIR': return new ZmxError('EINVAL', `${s} is a directory`);
    case 'EACCES':
    case 'EPERM': return new ZmxError('EACCES', `permission denied on ${s}`);
    case 'ENAMETOOLONG': return new ZmxError('EINVAL', `${s} is too long a name`);
    case 'ELOOP': return new ZmxError('EINVAL', `${s} changed to a symlink; try again`);
    case 'ENOSPC': return new ZmxError('EINTERNAL', `no space left on the device writing ${s}`);
    case 'EROFS': return new ZmxError('EACCES', `${s} is on a read-only filesystem`);
    case 'EXDEV': return new ZmxError('EINVAL', `${s}: cannot move across filesystems`);
    case 'EMFILE':
    case 'ENFILE': return new ZmxError('EUNAVAIL', `the server has too many files open for ${s}; try again`);
    default: {
      const mapped = toZmxError(err);
      return new ZmxError(mapped.code, code ? `${code} on ${s}` : `failed on ${s}`);
    }
  }
}
