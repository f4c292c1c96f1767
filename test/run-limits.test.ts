// Queue limits at the edge (issue 16, hole 4): a push that would start too many runs is refused at
// pre-receive, ci.skip or not; an owner or repository with a full queue gets no more runs; the
// manual-run API answers the same limits with 422 and 429. No runner: runs stay queued.
import t from 'tap';
import { GitClient } from './helpers/git-client.ts';
import { manifest, pushProject, startRunsServer } from './helpers/runs.ts';

const jobs = (n: number, extra = '') =>
  manifest(`${extra}jobs:\n${Array.from({ length: n }, (_, i) => `  j${i}:\n    kind: custom\n    command: "true"\n`).join('')}`);

t.test('per-push cap: 101 runs are refused with the count and the setting', async (t) => {
  const server = await startRunsServer(t, { runner: 'off' }, { database: 'pglite' });
  const client = await GitClient.create(t);
  const alice = await server.user('alice');
  const limit = /mlproject\.yaml: this push would start 101 runs; the limit is 100 \(MLGIT_RUN_MAX_PER_PUSH\)/;

  const refused = await pushProject(server, client, alice, 'wide', { 'mlproject.yaml': jobs(101) });
  t.not(refused.push.code, 0, 'rejected');
  t.match(refused.push.stderr, limit);
  const skipped = await client.run(['push', '-o', 'ci.skip', 'origin', 'main'], { cwd: refused.dir });
  t.not(skipped.code, 0, 'ci.skip still validates');
  t.match(skipped.stderr, limit);

  // Counted as the runs would be: a matrix expands, and a job brings what it depends on.
  await client.commit(refused.dir, { 'mlproject.yaml': manifest(`triggers:\n  push: {jobs: [b]}\njobs:\n  a:\n    kind: custom\n    command: "true"\n    matrix: {i: [${Array.from({ length: 50 }, (_, i) => i).join(', ')}]}\n  b:\n    kind: custom\n    depends_on: [a]\n    command: "true"\n    matrix: {k: [${Array.from({ length: 51 }, (_, i) => i).join(', ')}]}\n`) }, 'matrix');
  t.match((await client.run(['push', 'origin', 'main'], { cwd: refused.dir })).stderr, limit, '50 + 51 through depends_on');

  // A ref that starts nothing is not counted; a manual run of it meets the cap as a 422.
  await client.commit(refused.dir, { 'mlproject.yaml': jobs(101, 'triggers:\n  push: {branches: [release]}\n') }, 'manual only');
  const landed = await client.run(['push', 'origin', 'main'], { cwd: refused.dir });
  t.equal(landed.code, 0, landed.stderr);
  const manual = await server.api('POST', '/api/v1/repos/alice/wide/runs', { auth: alice.basic, body: {} });
  t.equal(manual.status, 422);
  t.match(JSON.stringify(manual.body), 'this request would start 101 runs; the limit is 100 (MLGIT_RUN_MAX_PER_PUSH)');
  const some = await server.api('POST', '/api/v1/repos/alice/wide/runs', { auth: alice.basic, body: { jobs: ['j1', 'j2'] } });
  t.equal(some.status, 201, 'a selection under the cap runs');
});

t.test('queued caps per owner and per repository', async (t) => {
  const server = await startRunsServer(t, { runner: 'off', maxQueuedPerOwner: 4, maxQueuedPerRepo: 3 }, { database: 'pglite' });
  const alice = await server.user('alice');
  const bob = await server.user('bob');

  const first = await pushProject(server, await GitClient.create(t), alice, 'one', { 'mlproject.yaml': jobs(3) });
  t.equal(first.push.code, 0, first.push.stderr);
  const perRepo = await server.api('POST', '/api/v1/repos/alice/one/runs', { auth: alice.basic, body: { jobs: ['j0'] } });
  t.equal(perRepo.status, 429, 'the repository is full');
  t.match(perRepo.body.message ?? JSON.stringify(perRepo.body), 'alice/one has 3 queued runs; this request would add 1 and the limit is 3 per repository (MLGIT_RUN_MAX_QUEUED_PER_REPO)');

  const second = await pushProject(server, await GitClient.create(t), alice, 'two', { 'mlproject.yaml': jobs(2) });
  t.not(second.push.code, 0, 'the owner is full');
  t.match(second.push.stderr, 'alice has 3 queued runs; this push would add 2 and the limit is 4 per owner (MLGIT_RUN_MAX_QUEUED_PER_OWNER)');

  const other = await pushProject(server, await GitClient.create(t), bob, 'two', { 'mlproject.yaml': jobs(2) });
  t.equal(other.push.code, 0, `another owner still pushes: ${other.push.stderr}`);
});
