import type { Readable } from 'node:stream';
import type { RunLogStore } from '../../domain/ports.ts';

/**
 * A data dir that moves to Postgres (DATABASE_URL set where the embedded default ran) keeps the
 * logs of its earlier runs as files: they are still read from there, while every append goes to
 * the current store. A run whose log the current store has is never read from the files.
 */
export class WithLegacyFileLogs implements RunLogStore {
  constructor(
    private readonly current: RunLogStore,
    private readonly legacy: RunLogStore,
  ) {}

  append(runId: number, chunk: Readable, maxBytes: number, batch?: string): Promise<{ written: number; truncated: boolean }> {
    return this.current.append(runId, chunk, maxBytes, batch);
  }

  async size(runId: number): Promise<number> {
    return (await this.current.size(runId)) || this.legacy.size(runId);
  }

  /** The current store first: a live log's reads (a follower polls) cost what they cost without the files. */
  async read(runId: number, start: number): Promise<Readable | null> {
    const current = await this.current.read(runId, start);
    if (current !== null || (await this.current.size(runId)) > 0) return current;
    return this.legacy.read(runId, start);
  }
}
