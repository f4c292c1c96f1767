// Fair scheduling (issue 16, hole 4): owner A queues 500 runs, then owner B pushes one job. B's
// run must start when the next job slot frees, not after A's backlog: the scheduler hands the
// queue only as many runs as there are slots, the next one going to the owner with fewer in flight.
// Once on the embedded default (PGlite, in-process queue), once on Postgres + BullMQ.
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { GitClient } from './helpers/git-client.ts';
import { eventually, manifest, pushProject, startRunsServer, waitForRuns } from './helpers/runs.ts';
import type { TestServer } from './helpers/server.ts';

const REDIS_URL = process.env.MLGIT_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const BACKLOG_JOBS = 10;
const BACKLOG_MATRIX = 50;

/** 10 jobs of a 50-wide matrix: 500 runs of a command that does nothing. */
const backlog = manifest(
  `cache: false\njobs:\n${Array.from(
    { length: BACKLOG_JOBS },
    (_, j) => `  shard${j}:\n    kind: custom\n    command: "true"\n    matrix: {i: [${Array.from({ length: BACKLOG_MATRIX }, (_, i) => i).join(', ')}]}\n`,
  ).join('')}`,
);

/** Every run of a repo with the given status (the API pages by 100, newest first). */
async function runsWith(server: TestServer, auth: string, repo: string, status: string): Promise<any[]> {
  const all: any[] = [];
  for (let page = 1; ; page++) {
    const batch = (await server.api('GET', `/api/v1/repos/${repo}/runs?status=${status}&per_page=100&page=${page}`, { auth })).body as any[];
    all.push(...batch);
    if (batch.length < 100) return all;
  }
}

const setups = [
  { name: 'embedded default: PGlite and the in-process queue', extra: { database: 'pglite' as const } },
  { name: 'Postgres and BullMQ', extra: { config: { redisUrl: REDIS_URL, redisPrefix: `mlgit-test-${randomBytes(4).toString('hex')}` } } },
];

for (const setup of setups) {
  t.test(`another owner's run starts within a job slot of A's 500-run backlog (${setup.name})`, async (t) => {
    const server = await startRunsServer(t, { runtime: 'process', maxRunsPerPush: 500 }, setup.extra);
    const alice = await server.user('alice');
    const bob = await server.user('bob');

    const big = await pushProject(server, await GitClient.create(t), alice, 'sweep', { 'mlproject.yaml': backlog });
    t.equal(big.push.code, 0, big.push.stderr.slice(-300));
    // A's first runs hold every slot before B pushes.
    await eventually(() => runsWith(server, alice.basic, 'alice/sweep', 'success'), (runs) => runs.length > 0, "A's first run", 120_000);

    const small = await pushProject(server, await GitClient.create(t), bob, 'tiny', { 'mlproject.yaml': manifest('jobs:\n  once:\n    kind: custom\n    command: "true"\n') });
    t.equal(small.push.code, 0, small.push.stderr);
    const [b] = await waitForRuns(server, bob.basic, 'bob/tiny', small.sha, { timeoutMs: 120_000 });
    t.equal(b.status, 'success', b.message);

    // Fairness is about what happens while B waits: A runs that finished before B was even queued
    // (a fast machine gets through several during B's push) say nothing about the scheduler.
    const bQueued = Date.parse(b.created_at);
    const bStarted = Date.parse(b.started_at);
    const aStarted = (await runsWith(server, alice.basic, 'alice/sweep', 'success')).map((r) => Date.parse(r.started_at));
    const startedWhileBWaited = aStarted.filter((started) => started > bQueued && started < bStarted).length;
    const stillQueued = (await runsWith(server, alice.basic, 'alice/sweep', 'queued')).length;
    t.comment(`A runs started while B was queued: ${startedWhileBWaited}; A runs still queued when B finished: ${stillQueued}; B waited ${bStarted - bQueued} ms`);
    t.ok(startedWhileBWaited < 10, `B started before A's 10th run after B was queued (${startedWhileBWaited} started first)`);
    t.ok(stillQueued > BACKLOG_JOBS * BACKLOG_MATRIX / 2, 'most of the backlog was still waiting');
  });
}
