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

  async read(runId: number, start: number): Promise<Readable | null> {
    if ((await this.current.size(runId)) > 0) return this.current.read(runId, start);
    return (await this.legacy.read(runId, start)) ?? this.current.read(runId, start);
  }
}
