import { createHash, randomFill } from 'node:crypto';
import { mkdir, open } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

/** A generated file and the Git LFS oid (sha256) of its bytes. */
export interface RandomFile {
  readonly path: string;
  readonly size: number;
  readonly oid: string;
}

const CHUNK_BYTES = 4 * 1024 * 1024;
const fill = promisify(randomFill);

/**
 * Writes `size` random (incompressible) bytes to `file`, hashing them on the way: one reused
 * chunk buffer, so a multi-GiB file never sits in memory.
 */
export async function writeRandomFile(file: string, size: number): Promise<RandomFile> {
  await mkdir(path.dirname(file), { recursive: true });
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, Math.max(size, 1)));
  const handle = await open(file, 'wx');
  try {
    for (let written = 0; written < size; ) {
      const chunk = buffer.subarray(0, Math.min(buffer.length, size - written));
      await fill(chunk);
      hash.update(chunk);
      // write() may be partial: loop until the whole chunk is on its way to the disk.
      for (let offset = 0; offset < chunk.length; ) {
        const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset);
        offset += bytesWritten;
      }
      written += chunk.length;
    }
  } finally {
    await handle.close();
  }
  return { path: file, size, oid: hash.digest('hex') };
}

/** `count` random files of `size` bytes each in `dir`, named so they sort in creation order. */
export async function writeRandomFiles(dir: string, count: number, size: number, prefix = 'part'): Promise<RandomFile[]> {
  const files: RandomFile[] = [];
  const digits = String(Math.max(count - 1, 0)).length;
  for (let i = 0; i < count; i += 1) {
    files.push(await writeRandomFile(path.join(dir, `${prefix}-${String(i).padStart(digits, '0')}.bin`), size));
  }
  return files;
}

export function totalBytes(files: readonly RandomFile[]): number {
  return files.reduce((sum, file) => sum + file.size, 0);
}
