import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { RunLogStore } from '../../domain/ports.ts';
import { logLimit } from './log-limit.ts';

/**
 * Logs as append-only files under the data dir, one per run (sharded like the repos). Appends of
 * one run are serialized here, so chunks from a runner never interleave; memory per append is
 * one stream buffer, whatever a job prints.
 */
export class FileLogStore implements RunLogStore {
  private readonly tails = new Map<number, Promise<unknown>>();

  constructor(private readonly root: string) {}

  private file(runId: number): string {
    return path.join(this.root, (runId % 256).toString(16).padStart(2, '0'), `${runId}.log`);
  }

  append(runId: number, chunk: Readable, maxBytes: number): Promise<{ written: number; truncated: boolean }> {
    const previous = this.tails.get(runId) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(() => this.appendNow(runId, chunk, maxBytes));
    this.tails.set(runId, next);
    void next.finally(() => {
      if (this.tails.get(runId) === next) this.tails.delete(runId);
    }).catch(() => {});
    return next;
  }

  private async appendNow(runId: number, chunk: Readable, maxBytes: number): Promise<{ written: number; truncated: boolean }> {
    const file = this.file(runId);
    await fs.mkdir(path.dirname(file), { recursive: true });
    const limit = logLimit(maxBytes - (await this.size(runId)));
    await pipeline(chunk, limit.stream, createWriteStream(file, { flags: 'a' }));
    return limit.result();
  }

  async size(runId: number): Promise<number> {
    try {
      return (await fs.stat(this.file(runId))).size;
    } catch {
      return 0;
    }
  }

  async read(runId: number, start: number): Promise<Readable | null> {
    const size = await this.size(runId);
    if (size === 0 && start === 0) {
      try {
        await fs.access(this.file(runId));
      } catch {
        return null;
      }
    }
    if (start >= size) return null;
    return createReadStream(this.file(runId), { start, end: size - 1 });
  }
}
