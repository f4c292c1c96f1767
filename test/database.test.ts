import t from 'tap';
import { sql } from 'kysely';
import { connectDatabase, connectMemoryDatabase, type Db } from '../server/db/connect.ts';
import { migrateDownAll, migrateToLatest } from '../server/db/migrate.ts';
import * as collaborators from '../server/db/collaborators.ts';
import * as pushes from '../server/db/pushes.ts';
import * as repos from '../server/db/repos.ts';
import * as users from '../server/db/users.ts';
import { createTestDatabase } from './helpers/postgres.ts';

type TapTest = { teardown(fn: () => unknown): void };

async function tables(db: Db): Promise<string[]> {
  const result = await sql<{ table_name: string }>`
    select table_name from information_schema.tables
    where table_schema = 'public' and table_name not like 'kysely_%' order by table_name`.execute(db);
  return result.rows.map((r) => r.table_name);
}

/** The same suite runs on real Postgres and on PGlite: the embedded default must behave identically. */
const engines: [string, (t: TapTest) => Promise<Db>][] = [
  [
    'postgres',
    async (t) => {
      const database = await createTestDatabase();
      const db = await connectDatabase(database.url, '/nonexistent');
      t.teardown(async () => {
        await db.destroy();
        await database.drop();
      });
      return db;
    },
  ],
  [
    'pglite',
    async (t) => {
      const db = await connectMemoryDatabase();
      t.teardown(() => db.destroy());
      return db;
    },
  ],
];

for (const [engine, open] of engines) {
  t.test(`database layer on ${engine}`, async (t) => {
    const db = await open(t);

    await t.test('migrations: empty -> latest -> empty -> latest', async (t) => {
      t.same(await tables(db), []);
      const up = await migrateToLatest(db);
      t.ok(up.length > 0 && up.every((line) => line.endsWith('Success')), up.join('\n'));
      t.same(await tables(db), [
        'audit_log',
        'collaborators',
        'commit_statuses',
        'deployments',
        'lfs_locks',
        'lfs_objects',
        'lfs_repo_objects',
        'model_alias_history',
        'model_aliases',
        'model_approvals',
        'model_versions',
        'push_outbox',
        'pushes',
        'repos',
        'run_log_chunks',
        'run_metric_points',
        'run_metrics',
        'run_outputs',
        'runs',
        'tokens',
        'users',
        'webhook_deliveries',
        'webhooks',
      ]);
      t.same(await migrateToLatest(db), [], 'a second run is a no-op');
      await migrateDownAll(db);
      t.same(await tables(db), []);
      await migrateToLatest(db);
    });

    await t.test('users are unique regardless of case', async (t) => {
      const alice = await users.insertUser(db, { username: 'Alice', email: null, passwordHash: 'x', isAdmin: false });
      t.equal((await users.findUserByName(db, 'alice'))?.id, alice.id);
      await t.rejects(users.insertUser(db, { username: 'ALICE', email: null, passwordHash: 'x', isAdmin: false }), { code: '23505' });
      t.equal(await users.countUsers(db), 1);
    });

    await t.test('repo search: prefix full-text, visibility, ordering', async (t) => {
      const owner = (await users.findUserByName(db, 'alice'))!;
      const bob = await users.insertUser(db, { username: 'bob', email: null, passwordHash: 'x', isAdmin: false });
      const base = { ownerId: owner.id, private: false, kind: 'model', defaultBranch: 'main', forkParentId: null };
      const digits = await repos.insertRepo(db, { ...base, name: 'digits-classifier', description: 'scikit-learn digits' });
      await repos.insertRepo(db, { ...base, name: 'resnet', description: 'image classifier weights' });
      const secret = await repos.insertRepo(db, { ...base, name: 'secret-digits', description: '', private: true });
      const search = (q: string | null, viewerId: number | null) =>
        repos.searchRepos(db, { viewerId, viewerIsAdmin: false, q, owner: null, kind: null, limit: 10, offset: 0 });

      t.same((await search('digi', null)).rows.map((r) => r.name), ['digits-classifier'], 'prefix match, private hidden from anonymous');
      t.same((await search('classif', null)).rows.map((r) => r.name).sort(), ['digits-classifier', 'resnet']);
      t.equal((await search('digits', owner.id)).total, 2, 'owner sees the private repo');
      t.equal((await search('digits', bob.id)).total, 1, 'others do not');
      await collaborators.upsertCollaborator(db, secret.id, bob.id, 'read');
      t.equal((await search('digits', bob.id)).total, 2, 'collaborators do');
      t.equal(await collaborators.findRole(db, secret.id, bob.id), 'read');
      await collaborators.upsertCollaborator(db, secret.id, bob.id, 'write');
      t.equal(await collaborators.findRole(db, secret.id, bob.id), 'write', 'upsert changes the role');
      t.same((await search('!!!', null)).rows, [], 'a query with no words finds nothing instead of failing');

      await repos.markPushed(db, digits.id);
      t.equal((await search(null, null)).rows[0]?.name, 'digits-classifier', 'recently pushed first');
      await pushes.insertPushes(db, digits.id, owner.id, [{ ref: 'refs/heads/main', oldSha: '0'.repeat(40), newSha: 'a'.repeat(40) }]);
      t.equal((await pushes.listPushes(db, digits.id, 10)).length, 1);
      await t.rejects(repos.insertRepo(db, { ...base, name: 'RESNET', description: '' }), { code: '23505' }, 'repo names unique per owner regardless of case');
    });
  });
}
