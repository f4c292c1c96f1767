import { lstat, readdir, rm } from 'node:fs/promises';
import path from 'node:path';

/**
 * What a killed push or upload leaves in the data dir, removed once it is surely abandoned, as
 * git's own `gc` prunes stale `tmp_objdir-*` quarantines and GitLab's housekeeping does:
 * - `repos/<xx>/<id>.git/objects/tmp_objdir-incoming-*`: a push's quarantine (git moves it into
 *   place or deletes it; a killed receive-pack does neither);
 * - `lfs/tmp/<oid>.<uuid>`: an LFS upload being written (renamed into place when verified).
 * "Abandoned" = nothing in it changed for `olderThanMs`: a live push or upload writes all the time.
 */
export interface SweepResult {
  removed: number;
  bytes: number;
}

const QUARANTINE = /^tmp_objdir-incoming-/;

export class CrashLeftovers {
  constructor(
    private readonly dataDir: string,
    private readonly olderThanMs: number,
  ) {}

  async sweep(now = Date.now()): Promise<SweepResult> {
    const result: SweepResult = { removed: 0, bytes: 0 };
    const candidates = [...(await this.quarantines()), ...(await entries(path.join(this.dataDir, 'lfs', 'tmp')))];
    for (const candidate of candidates) {
      const { newest, bytes } = await footprint(candidate);
      if (newest === null || now - newest < this.olderThanMs) continue;
      await rm(candidate, { recursive: true, force: true });
      result.removed++;
      result.bytes += bytes;
    }
    return result;
  }

  private async quarantines(): Promise<string[]> {
    const found: string[] = [];
    for (const shard of await entries(path.join(this.dataDir, 'repos'))) {
      for (const repo of await entries(shard)) {
        for (const entry of await entries(path.join(repo, 'objects'))) if (QUARANTINE.test(path.basename(entry))) found.push(entry);
      }
    }
    return found;
  }
}

async function entries(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names.map((name) => path.join(dir, name));
}

/** The latest modification anywhere below `target` and the bytes it holds; null when it vanished meanwhile. */
async function footprint(target: string): Promise<{ newest: number | null; bytes: number }> {
  const info = await lstat(target).catch(() => null);
  if (!info) return { newest: null, bytes: 0 };
  let newest = info.mtimeMs;
  let bytes = info.isFile() ? info.size : 0;
  if (info.isDirectory()) {
    for (const child of await entries(target)) {
      const inner = await footprint(child);
      if (inner.newest !== null) newest = Math.max(newest, inner.newest);
      bytes += inner.bytes;
    }
  }
  return { newest, bytes };
}
