// Run logs as Postgres rows (server/adapters/logs/postgres-log-store.ts), as two server nodes see
// them: two stores on one database append to and read the same logs.
import t from 'tap';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { sql } from 'kysely';
import { connectDatabase, type Db } from '../server/db/connect.ts';
import { migrateToLatest } from '../server/db/migrate.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FileLogStore } from '../server/adapters/logs/file-log-store.ts';
import { WithLegacyFileLogs } from '../server/adapters/logs/legacy-file-logs.ts';
import { PostgresLogStore } from '../server/adapters/logs/postgres-log-store.ts';
import type { RunLogStore } from '../server/domain/ports.ts';
import { createTestDatabase } from './helpers/postgres.ts';

type TapTest = Parameters<Parameters<typeof t.test>[0]>[0];

async function twoNodes(t: TapTest): Promise<{ a: PostgresLogStore; b: PostgresLogStore; runId: () => Promise<number> }> {
  const database = await createTestDatabase();
  const dbs: Db[] = [await connectDatabase(database.url, '/nonexistent'), await connectDatabase(database.url, '/nonexistent')];
  t.teardown(async () => {
    for (const db of dbs) await db.destroy();
    await database.drop();
  });
  await migrateToLatest(dbs[0]!);
  const db = dbs[0]!;
  await sql`insert into users (username, password_hash) values ('u', 'x')`.execute(db);
  await sql`insert into repos (owner_id, name) select id, 'r' from users`.execute(db);
  const runId = async () => {
    const row = await sql<{ id: number }>`insert into runs (repo_id, commit_sha, dispatch_id, project, job_id, job, kind, trigger, status, spec)
      select id, ${'a'.repeat(40)}, 'd', 'p', 'j', 'j', 'train', 'push', 'running', '{}'::jsonb from repos returning id`.execute(db);
    return row.rows[0]!.id;
  };
  return { a: new PostgresLogStore(dbs[0]!), b: new PostgresLogStore(dbs[1]!), runId };
}

const body = (...parts: string[]) => Readable.from(parts.map((p) => Buffer.from(p)));
const read = async (store: RunLogStore, runId: number, start: number) => {
  const stream = await store.read(runId, start);
  return stream === null ? null : text(stream);
};

t.test('appends through one node are read whole from the other, from any offset', async (t) => {
  const { a, b, runId } = await twoNodes(t);
  const id = await runId();
  t.equal(await read(b, id, 0), null, 'no log yet');
  t.equal(await b.size(id), 0);
  // 600 KiB in one append: three rows of 256 KiB at most.
  const big = 'x'.repeat(600 * 1024);
  t.same(await a.append(id, body('hello\n', big), 10 ** 9), { written: 6 + big.length, truncated: false });
  await b.append(id, body('world\n'), 10 ** 9);
  const whole = `hello\n${big}world\n`;
  t.equal(await b.size(id), whole.length);
  t.equal(await read(b, id, 0), whole, 'the whole log, in order');
  for (const start of [1, 6, 256 * 1024, 256 * 1024 + 1, whole.length - 3]) t.equal(await read(b, id, start), whole.slice(start), `read from byte ${start}`);
  t.equal(await read(b, id, whole.length), null, 'nothing past the end');
});

t.test('a batch the runner retries against the other node lands once', async (t) => {
  const { a, b, runId } = await twoNodes(t);
  const id = await runId();
  await a.append(id, body('one\n'), 1000, '1:0');
  t.same(await b.append(id, body('one\n'), 1000, '1:0'), { written: 0, truncated: false }, 'the retry is swallowed');
  await b.append(id, body('two\n'), 1000, '1:1');
  await a.append(id, body('one again, next attempt\n'), 1000, '2:0');
  t.equal(await read(a, id, 0), 'one\ntwo\none again, next attempt\n');
});

t.test('concurrent appends of one run from two nodes never interleave, and the limit holds across them', async (t) => {
  const { a, b, runId } = await twoNodes(t);
  const id = await runId();
  const lines = (tag: string) => Array.from({ length: 200 }, (_, i) => `${tag}${i}`.padEnd(99, '.') + '\n');
  await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).append(id, body(...lines(String.fromCharCode(97 + i))), 10 ** 9)));
  const log = (await read(a, id, 0))!;
  const blocks = log.match(/(.)\d+\.*\n(\1\d+\.*\n)*/g)!;
  t.equal(blocks.length, 10, 'ten appends, each one contiguous block');
  t.ok(blocks.every((block) => block.length === 200 * 100));

  const limited = await runId();
  const first = await a.append(limited, body('0123456789'), 15);
  const second = await b.append(limited, body('abcdefghij'), 15);
  t.same(first, { written: 10, truncated: false });
  t.same(second, { written: 5, truncated: true });
  t.match(await read(b, limited, 0), /^0123456789abcde\n\[mlgit\] log truncated/);
  const size = await a.size(limited);
  t.same(await a.append(limited, body('more'), 15), { written: 0, truncated: true }, 'a full log takes nothing more');
  t.equal(await a.size(limited), size, 'and no second notice');
});

t.test('a data dir moved to Postgres: earlier runs are read from their files, everything new goes to Postgres', async (t) => {
  const { a, runId } = await twoNodes(t);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mlgit-legacy-logs-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const files = new FileLogStore(dir);
  const logs = new WithLegacyFileLogs(a, files);
  const [old, both, fresh, none] = [await runId(), await runId(), await runId(), await runId()];
  await files.append(old, body('from the embedded days\n'), 1000);
  await files.append(both, body('a stale file\n'), 1000);
  await a.append(both, body('the row\n'), 1000);

  t.equal(await read(logs, old, 0), 'from the embedded days\n', 'a run with only a file log');
  t.equal(await read(logs, old, 9), 'embedded days\n', 'from an offset');
  t.equal(await logs.size(old), 23);
  t.equal(await read(logs, both, 0), 'the row\n', 'the current store wins where it has the log');
  t.equal(await read(logs, both, 8), null, 'its end is the end, not the file');
  t.same(await logs.append(fresh, body('new\n'), 1000, '1:0'), { written: 4, truncated: false });
  t.equal(await read(a, fresh, 0), 'new\n', 'appends go to Postgres');
  t.equal(await files.size(fresh), 0, 'and never to the files');
  t.equal(await read(logs, none, 0), null, 'no log anywhere');
});
