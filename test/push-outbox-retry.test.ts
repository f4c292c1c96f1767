// A push refused after pre-receive's outbox row was written (the database's answer lost in a cut,
// seen in durable-dispatch under load), then pushed again and accepted: the reconciler finds the
// first row with its ref at its new value, but the retry moved it there and recorded it. The push
// is recorded once and its runs created once.
import { sql } from 'kysely';
import t from 'tap';
import { PushOutbox } from '../server/domain/push-outbox.ts';
import { GitClient } from './helpers/git-client.ts';
import { eventually, manifest, pushProject, startRunsServer, waitForRuns } from './helpers/runs.ts';

const ZERO = '0'.repeat(40);

t.test('the row of a refused push whose retry landed is dropped, not recorded again', async (t) => {
  const server = await startRunsServer(t, { runtime: 'process' }, { config: { pushOutbox: { graceMs: 0, intervalMs: 100 } } });
  const alice = await server.user('alice');
  const { sha, push } = await pushProject(server, await GitClient.create(t), alice, 'retried', { 'mlproject.yaml': manifest('jobs:\n  check:\n    kind: custom\n    command: "true"\n') });
  t.equal(push.code, 0, push.stderr);
  const runs = await waitForRuns(server, alice.basic, 'alice/retried', sha);
  const { db } = server.services;
  const repo = await db.selectFrom('repos').select('id').where('name', '=', 'retried').executeTakeFirstOrThrow();

  // The first attempt's row, written before the retry's push was recorded.
  await sql`insert into push_outbox (session, repo_id, pusher_id, ref, old_sha, new_sha, push_options, created_at)
    select 'refused-attempt', ${repo.id}, pusher_id, ref, old_sha, new_sha, '[]'::jsonb, created_at - interval '1 second'
    from pushes where repo_id = ${repo.id} and new_sha = ${sha}`.execute(db);
  const row = await db.selectFrom('push_outbox').select(['ref', 'old_sha']).where('session', '=', 'refused-attempt').executeTakeFirstOrThrow();
  t.same(row, { ref: 'refs/heads/main', old_sha: ZERO }, 'the same update as the push that landed');

  await eventually(() => db.selectFrom('push_outbox').select('id').execute(), (rows) => rows.length === 0, 'the reconciler takes the row');
  const pushes = await db.selectFrom('pushes').select('id').where('new_sha', '=', sha).execute();
  t.equal(pushes.length, 1, 'the push is recorded once');
  const after = await db.selectFrom('runs').select('id').where('commit_sha', '=', sha).execute();
  t.equal(after.length, runs.length, 'no second set of runs');
});

t.test('a push whose repository was deleted since it began is refused as such, not as an outage', async (t) => {
  const server = await startRunsServer(t, { runtime: 'process' });
  await server.user('alice');
  const { db } = server.services;
  const alice = await db.selectFrom('users').select('id').where('username', '=', 'alice').executeTakeFirstOrThrow();
  const unused = async () => {
    throw new Error('not called');
  };
  const outbox = new PushOutbox(
    { db, git: server.services.git, repoById: unused, dispatch: unused, supersede: unused, afterPush: unused, inFlight: () => [][Symbol.iterator](), onError: () => {} },
    { graceMs: 60_000, intervalMs: 60_000 },
  );
  const update = { ref: 'refs/heads/main', oldSha: ZERO, newSha: 'a'.repeat(40) };
  await t.rejects(outbox.accept('gone', { repoId: 987_654, pusherId: alice.id }, [update], []), { code: 'not_found' }, 'the row names a repository that is gone');
  const rows = await db.selectFrom('push_outbox').select('id').where('repo_id', '=', 987_654).execute();
  t.same(rows, [], 'nothing recorded');
});
