import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { notFound } from '../../domain/errors.ts';
import type { ObjectStore, StoredObject, TransferAction } from '../../domain/ports.ts';
import { assertOid, assertRange, assertSize, shardedPath } from './validate.ts';
import { VerifyingStream } from './verifying-stream.ts';

const isErrno = (err: unknown, code: string): boolean =>
  err instanceof Error && (err as NodeJS.ErrnoException).code === code;

/**
 * Content-addressed files under `rootDir` (`ab/cd/<oid>`). Uploads go to `rootDir/tmp/` and are
 * renamed into place only once size and sha256 match, so a file at its final path is always
 * a verified object (Gitea's content_store.go does the same).
 */
export class LocalObjectStore implements ObjectStore {
  readonly #root: string;
  readonly #tmp: string;
  /** Directories known to exist (see #withDir). */
  readonly #madeDirs = new Set<string>();

  constructor(rootDir: string) {
    this.#root = rootDir;
    // Same filesystem as the objects, so the final rename is atomic. Shard dirs are two
    // characters long, so `tmp` can never collide with one.
    this.#tmp = join(rootDir, 'tmp');
  }

  #path(oid: string): string {
    return join(this.#root, shardedPath(oid));
  }

  reachable(): Promise<boolean> {
    return Promise.resolve(true);
  }

  async stat(oid: string): Promise<StoredObject | null> {
    assertOid(oid);
    try {
      return { size: (await stat(this.#path(oid))).size };
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return null;
      throw err;
    }
  }

  async put(oid: string, size: number, body: Readable): Promise<void> {
    assertOid(oid);
    assertSize(size);
    const target = this.#path(oid);
    // A unique temp name per upload: concurrent puts of one oid never share a file, and the
    // last rename wins with identical bytes.
    const temp = join(this.#tmp, `${oid}.${randomUUID()}`);
    const file = await this.#withDir(this.#tmp, () => open(temp, 'wx'));
    try {
      // `flush` fsyncs before close: a crash after the rename must not leave a short file.
      await pipeline(body, new VerifyingStream(oid, size), createWriteStream(temp, { fd: file, flush: true }));
      await this.#withDir(dirname(target), () => rename(temp, target));
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
    await syncDirectory(dirname(target));
  }

  /**
   * Runs `work`, which needs `dir` to exist. Directories made or seen once are remembered (tmp
   * and up to 65 536 shards; shards are never removed, see delete), so a put of a small object
   * skips two recursive mkdirs; one removed behind this process's back is made again.
   */
  async #withDir<T>(dir: string, work: () => Promise<T>): Promise<T> {
    if (!this.#madeDirs.has(dir)) {
      await mkdir(dir, { recursive: true });
      this.#madeDirs.add(dir);
    }
    try {
      return await work();
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
      await mkdir(dir, { recursive: true });
      return work();
    }
  }

  async get(oid: string, range?: { start: number; end: number }): Promise<Readable> {
    assertOid(oid);
    assertRange(range);
    // Open first so a missing object is an error of get() itself, not of the stream later.
    let handle;
    try {
      handle = await open(this.#path(oid), 'r');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw notFound(`object ${oid}`);
      throw err;
    }
    // start/end are JS numbers (safe up to 2^53), so offsets above 2 GiB work.
    return handle.createReadStream(range ? { start: range.start, end: range.end } : {});
  }

  async delete(oid: string): Promise<void> {
    assertOid(oid);
    // Shard directories stay: removing them would race with a concurrent put's rename.
    await rm(this.#path(oid), { force: true });
  }

  async presignUpload(oid: string, size: number): Promise<TransferAction | null> {
    assertOid(oid);
    assertSize(size);
    return null; // bytes go through mlgit
  }

  async presignDownload(oid: string, size: number): Promise<TransferAction | null> {
    assertOid(oid);
    assertSize(size);
    return null;
  }
}

/** Makes the rename itself durable (the new directory entry), not only the file's bytes. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
