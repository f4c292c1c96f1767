import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { sql } from 'kysely';
import type { Db } from '../../db/connect.ts';
import type { RunLogStore } from '../../domain/ports.ts';
import { logLimit } from './log-limit.ts';

/** Rows of at most this many bytes: an append or a read holds one row in memory, whatever the log's size. */
const CHUNK_BYTES = 256 * 1024;
/** Rows fetched per query while reading. */
const ROWS_PER_READ = 4;
/** First key of the advisory lock that serializes the appends of one run (the second is the run id). */
const APPEND_LOCK = 0x6d6c6f67; // "mlog"

/**
 * Logs as rows in Postgres, so several server nodes share them: a runner's batches may reach any
 * node, and `?follow=1` on any node polls the same rows. One append is one transaction under a
 * per-run advisory lock: it lands whole or not at all (a node killed mid-append leaves nothing for
 * the runner's retry to duplicate), and concurrent appends of a run never interleave.
 */
export class PostgresLogStore implements RunLogStore {
  constructor(private readonly db: Db) {}

  async append(runId: number, chunk: Readable, maxBytes: number, batch?: string): Promise<{ written: number; truncated: boolean }> {
    return this.db.transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(${APPEND_LOCK}, ${runId})`.execute(trx);
      if (batch !== undefined) {
        const seen = await trx.selectFrom('run_log_chunks').select('start').where('run_id', '=', runId).where('batch', '=', batch).executeTakeFirst();
        if (seen) {
          // Stored by another node (or before a restart) whose answer the runner never got.
          await pipeline(chunk, new Writable({ write: (_data, _enc, done) => done() }));
          return { written: 0, truncated: false };
        }
      }
      let offset = await endOf(trx, runId);
      const limit = logLimit(maxBytes - offset);
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      let first = true;
      const flush = async () => {
        if (pendingBytes === 0) return;
        const data = Buffer.concat(pending);
        pending = [];
        pendingBytes = 0;
        await trx
          .insertInto('run_log_chunks')
          .values({ run_id: runId, start: offset, length: data.length, data, batch: first ? (batch ?? null) : null })
          .execute();
        first = false;
        offset += data.length;
      };
      const sink = new Writable({
        write(data: Buffer, _enc, done) {
          pending.push(data);
          pendingBytes += data.length;
          if (pendingBytes < CHUNK_BYTES) return done();
          flush().then(() => done(), done);
        },
        final(done) {
          flush().then(() => done(), done);
        },
      });
      await pipeline(chunk, limit.stream, sink);
      return limit.result();
    });
  }

  size(runId: number): Promise<number> {
    return endOf(this.db, runId);
  }

  async read(runId: number, start: number): Promise<Readable | null> {
    // Like a file's read: the log up to its end now; bytes appended later are the next read's.
    const end = await endOf(this.db, runId);
    if (start >= end) return null;
    const db = this.db;
    const firstRow = await db
      .selectFrom('run_log_chunks')
      .select('start')
      .where('run_id', '=', runId)
      .where('start', '<=', start)
      .orderBy('start', 'desc')
      .limit(1)
      .executeTakeFirst();
    let from = Number(firstRow?.start ?? 0);
    async function* rows(): AsyncGenerator<Buffer> {
      while (from < end) {
        const batch = await db
          .selectFrom('run_log_chunks')
          .select(['start', 'data'])
          .where('run_id', '=', runId)
          .where('start', '>=', from)
          .where('start', '<', end)
          .orderBy('start')
          .limit(ROWS_PER_READ)
          .execute();
        if (batch.length === 0) return;
        for (const row of batch) {
          const rowStart = Number(row.start);
          const skip = Math.max(0, start - rowStart);
          const keep = Math.min(row.data.length, end - rowStart);
          if (keep > skip) yield row.data.subarray(skip, keep);
        }
        from = Number(batch[batch.length - 1]!.start) + 1;
      }
    }
    return Readable.from(rows(), { objectMode: false });
  }
}

/** The log's length: where its last row ends (0 without rows). */
async function endOf(db: Db, runId: number): Promise<number> {
  const last = await db
    .selectFrom('run_log_chunks')
    .select(sql<string>`start + length`.as('end'))
    .where('run_id', '=', runId)
    .orderBy('start', 'desc')
    .limit(1)
    .executeTakeFirst();
  return Number(last?.end ?? 0);
}
