// Atomic file writing: readers see either the old file or the complete new one, never a
// half-written file, even if the process is killed or the machine loses power mid-write.
// The recipe: write a temp file in the same folder (so rename stays on one file system),
// fsync it, rename it over the target, then fsync the folder so the rename itself is durable.
import { createHash, randomBytes } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { errnoOf, ioError } from './io-error.ts';

/** Large buffers are written in pieces: one write() call cannot pass 2 GiB. */
const maxWriteBytes = 64 * 1024 * 1024;

/** Where bytes go when a file is written piece by piece. */
export interface ByteSink {
  write(bytes: ArrayBufferView): Promise<void>;
  readonly bytesWritten: number;
}

export interface WriteResult {
  bytes: number;
  /** Hex SHA-256 of the content, when asked for with `sha256: true`. */
  sha256?: string;
}

export interface WriteOptions {
  /** Hash the content while writing it (no second read). */
  sha256?: boolean;
}

export type ContentProducer = (sink: ByteSink) => Promise<void>;

class FileSink implements ByteSink {
  bytesWritten = 0;
  private readonly hash;

  constructor(
    private readonly handle: FileHandle,
    private readonly path: string,
    withHash: boolean,
  ) {
    this.hash = withHash ? createHash('sha256') : undefined;
  }

  async write(view: ArrayBufferView): Promise<void> {
    const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    for (let start = 0; start < bytes.byteLength; start += maxWriteBytes) {
      const piece = bytes.subarray(start, Math.min(start + maxWriteBytes, bytes.byteLength));
      let done = 0;
      while (done < piece.byteLength) {
        let written: number;
        try {
          ({ bytesWritten: written } = await this.handle.write(piece, done, piece.byteLength - done, this.bytesWritten));
        } catch (error) {
          throw ioError(error, this.path, 'write');
        }
        done += written;
        this.bytesWritten += written;
      }
      this.hash?.update(piece);
    }
  }

  digest(): string | undefined {
    return this.hash?.digest('hex');
  }
}

function asProducer(content: string | ArrayBufferView | ContentProducer): ContentProducer {
  if (typeof content === 'function') return content;
  const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  return (sink) => sink.write(bytes);
}

/**
 * Writes `path` in place and fsyncs it, without the rename step. For files inside a
 * folder that is itself renamed into place once complete (checkpoints).
 */
export async function writeFileDurably(
  path: string,
  content: string | ArrayBufferView | ContentProducer,
  options: WriteOptions = {},
): Promise<WriteResult> {
  return writeDurably(path, path, content, options);
}

/** `shownAs` is the name errors use: the target, not the temp file the user never sees. */
async function writeDurably(
  path: string,
  shownAs: string,
  content: string | ArrayBufferView | ContentProducer,
  options: WriteOptions,
): Promise<WriteResult> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'w');
  } catch (error) {
    throw ioError(error, shownAs, 'create');
  }
  try {
    const sink = new FileSink(handle, shownAs, options.sha256 === true);
    try {
      await asProducer(content)(sink);
    } catch (error) {
      throw ioError(error, shownAs, 'write');
    }
    try {
      await handle.sync();
    } catch (error) {
      throw ioError(error, shownAs, 'write');
    }
    const digest = sink.digest();
    return digest === undefined ? { bytes: sink.bytesWritten } : { bytes: sink.bytesWritten, sha256: digest };
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** A fresh name beside `path` that no other writer (process or call) will pick. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/**
 * Writes `path` atomically. `content` is a string, bytes, or a producer that streams pieces
 * into a sink (so a multi-GB file never sits in memory). On any failure the temp file is
 * removed and the previous `path`, if any, is left untouched.
 */
export async function writeFileAtomic(
  path: string,
  content: string | ArrayBufferView | ContentProducer,
  options: WriteOptions = {},
): Promise<WriteResult> {
  const temp = tempPathFor(path);
  try {
    const result = await writeDurably(temp, path, content, options);
    await renameDurably(temp, path);
    return result;
  } catch (error) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw ioError(error, path, 'write');
  }
}

/** Renames `from` to `to` (a file or a folder) and makes the rename durable. */
export async function renameDurably(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (error) {
    throw ioError(error, to, 'rename');
  }
  await fsyncDirectory(dirname(to));
}

/**
 * Flushes a folder's entries (new names, renames) to disk. Some platforms and file
 * systems cannot fsync a folder; there the rename is as durable as the OS makes it.
 */
export async function fsyncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (error) {
    const errno = errnoOf(error);
    if (errno === 'EISDIR' || errno === 'EINVAL' || errno === 'EPERM' || errno === 'ENOTSUP' || errno === 'EBADF') return;
    throw ioError(error, dir, 'write');
  } finally {
    await handle?.close().catch(() => undefined);
  }
}
