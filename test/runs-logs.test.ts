// A job that prints 100 MB: the log streams through the runner and the server to its store (files
// in the embedded default, rows on Postgres) with bounded memory, `?follow=1` streams it live, and
// the server keeps answering meanwhile.
import t from 'tap';
import { GitClient } from './helpers/git-client.ts';
import { createTestDatabase } from './helpers/postgres.ts';
import { manifest, pushProject, startRunsServer, waitForRuns } from './helpers/runs.ts';

const BYTES = 100_000_000;

const STORES: { name: string; databaseUrl: () => Promise<{ url: string; drop: () => Promise<void> } | null> }[] = [
  { name: 'files in the data dir', databaseUrl: async () => null },
  { name: 'rows in Postgres', databaseUrl: createTestDatabase },
];

for (const store of STORES) t.test(`100 MB of logs (${store.name})`, async (t) => {
  const database = await store.databaseUrl();
  if (database) t.teardown(database.drop);
  const server = await startRunsServer(t, { runtime: 'process' }, database ? { config: { databaseUrl: database.url } } : {});
  const client = await GitClient.create(t);
  const alice = await server.user('alice');
  const auth = `Basic ${Buffer.from(alice.basic).toString('base64')}`;

  global.gc?.();
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  let slowest = 0;
  let probes = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const start = Date.now();
      const health = await fetch(`${server.url}/healthz`);
      await health.arrayBuffer();
      slowest = Math.max(slowest, Date.now() - start);
      probes++;
      peak = Math.max(peak, process.memoryUsage().rss);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();

  const { sha, push } = await pushProject(server, client, alice, 'chatty', {
    'mlproject.yaml': manifest(`jobs:
  chatty:
    kind: custom
    command: head -c ${BYTES} /dev/zero | tr '\\0' 'x' | fold -w 99
`),
  });
  t.equal(push.code, 0, push.stderr);
  const [queued] = await waitForRuns(server, alice.basic, 'alice/chatty', sha, { done: (runs) => runs.length === 1 });
  // Follow from the start while the job runs.
  const follow = await fetch(`${server.url}/api/v1/repos/alice/chatty/runs/${queued.id}/logs?follow=1`, { headers: { authorization: auth } });
  t.equal(follow.status, 200);
  let followed = 0;
  for await (const chunk of follow.body!) followed += (chunk as Uint8Array).length;

  const [run] = await waitForRuns(server, alice.basic, 'alice/chatty', sha, { timeoutMs: 300_000 });
  sampling = false;
  await sampler;
  t.equal(run.status, 'success', run.message);
  const size = server.services.runs.logs.size(run.id);
  const total = await size;
  t.ok(total >= BYTES + BYTES / 99, `the whole log was kept: ${total} bytes`);
  t.equal(followed, total, 'following streamed every byte until the run ended');
  const growthMb = (peak - baseline) / 2 ** 20;
  t.ok(growthMb < 150, `server + runner memory grew ${growthMb.toFixed(1)} MB while 100 MB of log went through`);
  t.ok(slowest < 3000, `GET /healthz stayed answered: slowest of ${probes} probes ${slowest} ms`);
  t.comment(`log ${total} bytes; RSS growth ${growthMb.toFixed(1)} MB; slowest /healthz ${slowest} ms over ${probes} probes`);
});
