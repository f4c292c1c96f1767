import fs from 'node:fs/promises';
import path from 'node:path';

const IDX_SIGNATURE = 0xff744f63; // "\377tOc"
const IDX_HEADER_BYTES = 8 + 256 * 4;
const NAMES_PER_READ = 4096;
const FANOUT_DIR = /^[0-9a-f]{2}$/;
const LOOSE_NAME = /^[0-9a-f]{38}$/;

/**
 * The ids of the objects stored in an object directory itself (not in its alternates): the names
 * in each pack's index and the loose objects. For a push's quarantine these are the objects the
 * push sent, listed without starting git.
 */
export async function* objectIdsIn(objectDir: string): AsyncGenerator<string> {
  const packDir = path.join(objectDir, 'pack');
  for (const name of await fs.readdir(packDir).catch(() => [])) {
    if (name.endsWith('.idx')) yield* packIndexNames(path.join(packDir, name));
  }
  for (const dir of await fs.readdir(objectDir).catch(() => [])) {
    if (!FANOUT_DIR.test(dir)) continue;
    for (const file of await fs.readdir(path.join(objectDir, dir)).catch(() => [])) {
      if (LOOSE_NAME.test(file)) yield dir + file;
    }
  }
}

/** The object names of a version 2 pack index (gitformat-pack): read in slices, so memory stays flat. */
async function* packIndexNames(file: string): AsyncGenerator<string> {
  const handle = await fs.open(file, 'r');
  try {
    const header = Buffer.alloc(IDX_HEADER_BYTES);
    const { bytesRead } = await handle.read(header, 0, header.length, 0);
    if (bytesRead < header.length || header.readUInt32BE(0) !== IDX_SIGNATURE || header.readUInt32BE(4) !== 2) {
      throw new Error(`${path.basename(file)} is not a version 2 pack index`);
    }
    // The last fan-out entry counts every object of the pack; the sorted names follow the table.
    const count = header.readUInt32BE(IDX_HEADER_BYTES - 4);
    const names = Buffer.alloc(NAMES_PER_READ * 20);
    for (let done = 0; done < count; ) {
      const n = Math.min(NAMES_PER_READ, count - done);
      const read = await handle.read(names, 0, n * 20, IDX_HEADER_BYTES + done * 20);
      if (read.bytesRead < n * 20) throw new Error(`${path.basename(file)} is truncated`);
      for (let i = 0; i < n; i++) yield names.toString('hex', i * 20, i * 20 + 20);
      done += n;
    }
  } finally {
    await handle.close();
  }
}
