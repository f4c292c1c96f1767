import t from 'tap';
import { loadConfig } from '../server/config.ts';
import { GitClient } from './helpers/git-client.ts';
import { startServer } from './helpers/server.ts';
import { waitFor, WebhookReceiver } from './helpers/webhook-receiver.ts';

t.test('commit statuses', async (t) => {
  const server = await startServer(t, { config: { webhooks: { ...loadConfig({}).webhooks, allow: ['127.0.0.1'] } } });
  const alice = await server.user('alice');
  const reader = await server.user('reader', ['read']);
  const aliceRead = await server.api('POST', '/api/v1/user/tokens', { auth: alice.basic, body: { name: 'ro', scopes: ['read'] } });
  await server.api('POST', '/api/v1/repos', { auth: alice.basic, body: { name: 'm' } });
  await server.api('PUT', '/api/v1/repos/alice/m/collaborators/reader', { auth: alice.basic, body: { role: 'read' } });
  const git = await GitClient.create(t);
  const work = await git.workRepo('work', [{ 'a.txt': '1\n' }]);
  await git.ok(['push', server.gitUrl('alice', 'm', alice.tokenBasic), 'main'], { cwd: work });
  const sha = (await git.ok(['rev-parse', 'HEAD'], { cwd: work })).trim();
  const receiver = await WebhookReceiver.start(t);
  await server.api('POST', '/api/v1/repos/alice/m/hooks', { auth: alice.basic, body: { url: receiver.url, events: ['status'] } });
  const metricsSeen: unknown[][] = [];
  server.services.statuses.setOnMetrics(async (...args) => {
    metricsSeen.push(args);
  });
  const post = (body: unknown, auth: string | null = alice.token, target = sha) => server.api('POST', `/api/v1/repos/alice/m/statuses/${target}`, { auth: auth ?? undefined, body });

  await t.test('write access posts; read-only tokens, readers and strangers do not', async (t) => {
    const created = await post({ state: 'pending', context: 'ci/build', description: 'building', target_url: 'https://ci.example/1' });
    t.equal(created.status, 201);
    t.match(created.body, { sha, state: 'pending', context: 'ci/build', description: 'building', target_url: 'https://ci.example/1', creator: 'alice', metrics: null }, 'the answer names its creator, as the lists do');
    const readOnly = await post({ state: 'success', context: 'ci/build' }, aliceRead.body.token);
    t.equal(readOnly.status, 403, "the owner's read-only token is refused");
    t.match(readOnly.body.error, { code: 'forbidden' });
    t.equal((await post({ state: 'success' }, reader.token)).status, 403, 'a read collaborator is refused');
    t.equal((await post({ state: 'success' }, null)).status, 401, 'anonymous is refused');
  });

  await t.test('hostile and malformed input: 422 with a message', async (t) => {
    const many = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`m${i}`, i]));
    const cases: [string, unknown, RegExp][] = [
      ['bad state', { state: 'ok' }, /state/],
      ['no state', { context: 'x' }, /state/],
      ['empty context', { state: 'success', context: '' }, /context/],
      ['context with a newline', { state: 'success', context: 'a\nb' }, /context/],
      ['long context', { state: 'success', context: 'c'.repeat(256) }, /context/],
      ['long description', { state: 'success', description: 'd'.repeat(1001) }, /description/],
      ['javascript: target', { state: 'success', target_url: 'javascript:alert(1)' }, /target_url/],
      ['metric not a number', { state: 'success', metrics: { acc: '0.9' } }, /metrics/],
      ['metric bad name', { state: 'success', metrics: { 'bad name!': 1 } }, /metric name/],
      ['metric name from __proto__ tricks', { state: 'success', metrics: { '../x': 1 } }, /metric name/],
      ['too many metrics', { state: 'success', metrics: many }, /metrics|100/],
      ['metrics as a list', { state: 'success', metrics: [1, 2] }, /metrics/],
      ['infinite metric', '{"state":"success","metrics":{"loss":1e400}}', /number|finite/],
    ];
    for (const [what, body, message] of cases) {
      const refused = await post(body);
      t.equal(refused.status, 422, what);
      t.match(refused.body?.error?.message, message, what);
    }
    t.equal((await post({ state: 'success' }, alice.token, 'f'.repeat(40))).status, 422, 'a commit the repo does not have');
    t.equal((await post({ state: 'success' }, alice.token, 'HEAD')).status, 422, 'a ref is not a sha');
  });

  await t.test('metrics are stored with the status and handed to the metrics store', async (t) => {
    metricsSeen.length = 0;
    const created = await post({ state: 'success', context: 'ci/eval', metrics: { accuracy: 0.91, 'loss/val': 0.2 } });
    t.equal(created.status, 201);
    t.same(created.body.metrics, { accuracy: 0.91, 'loss/val': 0.2 });
    const repoId = (await server.api('GET', '/api/v1/repos/alice/m', { auth: alice.token })).body.id;
    // The status's state comes along: a CI run recorded from a failure is a failed run.
    t.same(metricsSeen, [[repoId, sha, 'ci/eval', { accuracy: 0.91, 'loss/val': 0.2 }, 'success']]);
  });

  await t.test('list newest first with pagination and ETag; combined state per context', async (t) => {
    await post({ state: 'success', context: 'ci/build' });
    const list = await server.api('GET', '/api/v1/repos/alice/m/commits/main/statuses?per_page=2', { auth: reader.token });
    t.equal(list.status, 200);
    t.equal(list.body.length, 2);
    t.equal(list.body[0].context, 'ci/build');
    t.equal(list.body[0].state, 'success');
    t.equal(list.headers.get('x-total-count'), '3');
    t.match(list.headers.get('link'), /rel="next"/);
    const etag = list.headers.get('etag')!;
    t.equal((await server.api('GET', '/api/v1/repos/alice/m/commits/main/statuses?per_page=2', { auth: reader.token, headers: { 'if-none-match': etag } })).status, 304);

    const combined = await server.api('GET', `/api/v1/repos/alice/m/commits/${sha}/status`, { auth: reader.token });
    t.equal(combined.body.state, 'success', 'latest of each context is success');
    t.equal(combined.body.total_count, 2);
    t.same(combined.body.statuses.map((s: any) => s.context).sort(), ['ci/build', 'ci/eval']);

    // mlgit's own runs post through the same service, in the same table.
    const repoId = combined.body.statuses[0] && (await server.api('GET', '/api/v1/repos/alice/m', { auth: alice.token })).body.id;
    const own = await server.services.statuses.set(repoId, sha, { state: 'failure', context: 'mlgit/compare', description: 'accuracy -3%' }, null);
    t.equal(own.context, 'mlgit/compare');
    const after = await server.api('GET', '/api/v1/repos/alice/m/commits/main/status', { auth: reader.token });
    t.equal(after.body.state, 'failure', 'any failure makes the combined state failure');
    t.equal((await server.api('GET', '/api/v1/repos/alice/m/commits/nope/status', { auth: reader.token })).status, 404);
    t.equal((await server.api('GET', '/api/v1/repos/alice/m/commits/main/status')).status, 200, 'public repo: anonymous may read');
  });

  await t.test('each status fires the status webhook', async (t) => {
    const events = await waitFor(() => (receiver.ofEvent('status').length >= 4 ? receiver.ofEvent('status') : null));
    const last = events.find((e) => e.json.context === 'mlgit/compare')!.json;
    t.match(last, { sha, state: 'failure', context: 'mlgit/compare', description: 'accuracy -3%', repository: { full_name: 'alice/m' }, sender: null });
    const eval_ = events.find((e) => e.json.context === 'ci/eval')!.json;
    t.same(eval_.metrics, { accuracy: 0.91, 'loss/val': 0.2 });
    t.equal(eval_.sender.login, 'alice');
  });
});
