// The model registry end to end (issue 11, "Registry"): the real git client pushes a project with
// a `models:` section, the process runtime trains it, and the successful run registers version 1
// (a row, the ref refs/models/clf/v1 seen by `git ls-remote`, a line in the commit's note, a
// signed webhook); a second push makes v2; aliases move by compare-and-set (409 on a stale
// expectation, one winner among 20 racers), promotion gates answer 422 listing every unmet
// condition, an admin override is audited; downloads by alias are byte-identical, with Range and
// ETag; a client push under refs/models/ is refused.
import t from 'tap';
import { loadConfig } from '../server/config.ts';
import { GitClient } from './helpers/git-client.ts';
import { eventually, startRunsServer, waitForRuns } from './helpers/runs.ts';
import { modelBytes, projectFiles, sha256 } from './helpers/registry.ts';
import { verifySignature, waitFor, WebhookReceiver } from './helpers/webhook-receiver.ts';

const SECRET = 'registry hook secret';
const REPO = 'alice/digits';
const MODEL = `/api/v1/repos/${REPO}/models/clf`;

t.test('registry: versions from runs, aliases, gates, downloads, refs', async (t) => {
  const server = await startRunsServer(t, { runtime: 'process' }, { config: { webhooks: { ...loadConfig({}).webhooks, allow: ['127.0.0.1'] } } });
  const client = await GitClient.create(t);
  const receiver = await WebhookReceiver.start(t);
  const alice = await server.user('alice');
  const bob = await server.user('bob');
  const admin = `admin:${server.admin.password}`;
  const api = server.api;

  t.equal((await api('POST', '/api/v1/repos', { auth: alice.basic, body: { name: 'digits' } })).status, 201);
  t.equal((await api('PUT', `/api/v1/repos/${REPO}/collaborators/bob`, { auth: alice.basic, body: { role: 'write' } })).status, 204);
  const hook = await api('POST', `/api/v1/repos/${REPO}/hooks`, { auth: alice.basic, body: { url: receiver.url, secret: SECRET, events: ['model.version.created', 'model.alias.updated'] } });
  t.equal(hook.status, 201, JSON.stringify(hook.body));

  const dir = await client.workRepo('digits', [projectFiles(0.96)]);
  await client.ok(['remote', 'add', 'origin', server.gitUrl('alice', 'digits', alice.basic)], { cwd: dir });
  const pushAndTrain = async (acc: number, first: boolean) => {
    if (!first) await client.commit(dir, projectFiles(acc), `acc ${acc}`);
    const sha = (await client.ok(['rev-parse', 'HEAD'], { cwd: dir })).trim();
    const push = await client.run(['push', 'origin', 'main'], { cwd: dir });
    t.equal(push.code, 0, push.stderr);
    const runs = await waitForRuns(server, alice.basic, REPO, sha, { count: 2 });
    const train = runs.find((r) => r.job === 'train');
    t.equal(train.status, 'success', train.message ?? '');
    return { sha, train };
  };
  const versionsNow = async () => (await api('GET', `${MODEL}/versions`, { auth: alice.basic })).body as any[];
  const lsRemote = async () => {
    const out = await client.ok(['ls-remote', 'origin', 'refs/models/*'], { cwd: dir });
    return Object.fromEntries(out.trim().split('\n').filter(Boolean).map((line) => line.split('\t').reverse()));
  };

  const first = await pushAndTrain(0.96, true);
  const v1 = (await eventually(versionsNow, (v) => Array.isArray(v) && v.length === 1, 'version 1'))[0];

  await t.test('version 1: a row with the run, commit, metrics and file', async (t) => {
    t.match(v1, { model: 'clf', version: 1, run_id: first.train.id, commit: first.sha, path: 'model.bin', format: 'other', size: 300_000, metrics: { accuracy: 0.96 } });
    t.equal(v1.sha256, sha256(modelBytes(0.96)), 'the row names the sha256 of the bytes the job wrote');
    t.same(v1.inspection, { kind: 'none' }, 'format other: no header to read, not a pickle');
    t.equal(v1.unsafe_to_load, false);
    const one = await api('GET', `${MODEL}/versions/v1`, { auth: alice.basic });
    t.equal(one.status, 200);
    t.same(one.body, v1);
    const models = await api('GET', `/api/v1/repos/${REPO}/models`, { auth: alice.basic });
    t.same(models.body, [{ model: 'clf', latest: 1, versions: 1 }]);
  });

  await t.test('version 1 is a ref that git ls-remote shows, and the note names it', async (t) => {
    const refs = await eventually(lsRemote, (r) => 'refs/models/clf/v1' in r, 'ref v1');
    t.equal(refs['refs/models/clf/v1'], first.sha);
    const note = await eventually(
      async () => {
        await client.run(['fetch', '-q', 'origin', '+refs/notes/mlproject:refs/notes/mlproject'], { cwd: dir });
        return (await client.run(['notes', '--ref=mlproject', 'show', first.sha], { cwd: dir })).stdout;
      },
      (text) => text.includes('model clf v1'),
      'note line',
    );
    t.match(note, `model clf v1 from run ${first.train.id}`);
  });

  await t.test('a second registration of the same run is the same version', async (t) => {
    const again = await api('POST', `${MODEL}/versions`, { auth: alice.basic, body: { run_id: first.train.id } });
    t.equal(again.status, 200);
    t.equal(again.body.version, 1);
    t.equal((await versionsNow()).length, 1, 'no new number');
  });

  await t.test('register: manual waits for a request, which makes version 1 (ref, note line) once', async (t) => {
    const manual = `/api/v1/repos/${REPO}/models/clf-manual/versions`;
    t.same((await api('GET', manual, { auth: alice.basic })).body, [], 'the run did not register it');
    t.equal((await api('POST', manual, { auth: bob.basic, body: { run_id: first.train.id } })).status, 201);
    const again = await api('POST', manual, { auth: alice.basic, body: { run_id: first.train.id } });
    t.equal(again.status, 200);
    t.match(again.body, { model: 'clf-manual', version: 1, run_id: first.train.id, sha256: v1.sha256 });
    t.equal((await lsRemote())['refs/models/clf-manual/v1'], first.sha);
    await client.ok(['fetch', '-q', 'origin', '+refs/notes/mlproject:refs/notes/mlproject'], { cwd: dir });
    const note = await client.ok(['notes', '--ref=mlproject', 'show', first.sha], { cwd: dir });
    t.match(note, `model clf v1 from run ${first.train.id}\n  model clf-manual v1 from run ${first.train.id}`);
  });

  const second = await pushAndTrain(0.97, false);
  const v2 = (await eventually(versionsNow, (v) => v.length === 2, 'version 2'))[0];

  await t.test('a second push makes version 2', async (t) => {
    t.match(v2, { version: 2, commit: second.sha, run_id: second.train.id, sha256: sha256(modelBytes(0.97)) });
    const refs = await eventually(lsRemote, (r) => 'refs/models/clf/v2' in r, 'ref v2');
    t.equal(refs['refs/models/clf/v2'], second.sha);
    t.equal(refs['refs/models/clf/v1'], first.sha, 'v1 did not move');
  });

  await t.test('aliases move by compare-and-set, with history and refs', async (t) => {
    const put = (alias: string, body: unknown, auth = alice.basic) => api('PUT', `${MODEL}/aliases/${alias}`, { auth, body });
    t.equal((await put('staging', { version: 1, expected_version: null })).status, 200);
    const stale = await put('staging', { version: 2, expected_version: null });
    t.equal(stale.status, 409);
    t.match(stale.body.error.message, 'points at version 1');
    const moved = await put('staging', { version: 2, expected_version: 1, reason: 'better' }, bob.basic);
    t.equal(moved.status, 200, JSON.stringify(moved.body));
    t.match(moved.body, { alias: 'staging', version: 2, previous: 1 });
    const aliases = await api('GET', `${MODEL}/aliases`, { auth: alice.basic });
    t.match(aliases.body, [{ alias: 'latest', version: 2 }, { alias: 'staging', version: 2, updated_by: 'bob' }]);
    const history = await api('GET', `${MODEL}/aliases/staging/history`, { auth: alice.basic });
    t.match(history.body, [
      { from_version: 1, to_version: 2, actor: 'bob', reason: 'better' },
      { from_version: null, to_version: 1, actor: 'alice' },
    ]);
    const refs = await lsRemote();
    t.equal(refs['refs/models/clf/aliases/staging'], second.sha, 'the alias ref points at the commit of version 2');
  });

  await t.test('20 concurrent moves from the same expectation: exactly one wins', async (t) => {
    const before = (await api('GET', `${MODEL}/aliases/staging/history?per_page=100`, { auth: alice.basic })).body.length;
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => api('PUT', `${MODEL}/aliases/staging`, { auth: i % 2 ? bob.basic : alice.basic, body: { version: 1, expected_version: 2 } })),
    );
    const statuses = answers.map((a) => a.status).sort();
    t.same(statuses, [200, ...Array(19).fill(409)], JSON.stringify(answers.filter((a) => a.status !== 409 && a.status !== 200).map((a) => a.body)));
    const winner = answers.find((a) => a.status === 200)!.body.version;
    t.equal(winner, 1);
    const history = (await api('GET', `${MODEL}/aliases/staging/history?per_page=100`, { auth: alice.basic })).body;
    t.equal(history.length, before + 1, 'one history entry for the one move');
    t.match(history[0], { from_version: 2, to_version: winner });
    await eventually(lsRemote, (r) => r['refs/models/clf/aliases/staging'] === first.sha, 'alias ref follows the winner');
    const same = await api('PUT', `${MODEL}/aliases/staging`, { auth: alice.basic, body: { version: 1, expected_version: 1 } });
    t.match(same.body, { version: 1, unchanged: true }, 'a move to where it is changes nothing');
    const alias = await api('GET', `${MODEL}/aliases/staging`, { auth: alice.basic });
    t.equal(alias.body.version, winner);
  });

  const third = await pushAndTrain(0.5, false);
  await eventually(versionsNow, (v) => v.length === 3, 'version 3');

  await t.test('promotion gates: 422 listing every unmet condition; admins override with an audited reason', async (t) => {
    const put = (body: unknown, auth = alice.basic) => api('PUT', `${MODEL}/aliases/production`, { auth, body });
    const unmet = await put({ version: 2, expected_version: null });
    t.equal(unmet.status, 422);
    t.same(unmet.body.error.unmet, ['status ci/integration: not reported, must be success']);
    t.equal((await api('POST', `/api/v1/repos/${REPO}/statuses/${second.sha}`, { auth: alice.basic, body: { state: 'success', context: 'ci/integration' } })).status, 201);
    t.equal((await put({ version: 2, expected_version: null })).status, 200, 'v2 meets every gate once CI passed');

    const all = await put({ version: 3, expected_version: 2 }, bob.basic);
    t.equal(all.status, 422);
    t.same(all.body.error.unmet, [
      'metric accuracy: 0.5, must be >= 0.95',
      'not_regressed: accuracy 0.5 is worse than 0.97 of version 2',
      'status ci/integration: not reported, must be success',
    ]);
    t.equal((await put({ version: 3, expected_version: 2, override: true, reason: 'hotfix' }, bob.basic)).status, 403, 'a writer cannot override');
    t.equal((await put({ version: 3, expected_version: 2, override: true }, alice.basic)).status, 422, 'an override needs a reason');
    const overridden = await put({ version: 3, expected_version: 2, override: true, reason: 'rollback drill' }, alice.basic);
    t.equal(overridden.status, 200, JSON.stringify(overridden.body));
    t.equal(overridden.body.overridden.length, 3);
    const audit = await api('GET', '/api/v1/admin/audit?action=model.alias.override', { auth: admin });
    t.match(audit.body[0], { action: 'model.alias.override', actor: 'alice', target: 'alice/digits:clf/production', details: { from: 2, to: 3, reason: 'rollback drill' } });
    t.equal(audit.body[0].details.overridden.length, 3);
  });

  await t.test('protected aliases need admins; approvals count toward approvers', async (t) => {
    t.equal((await api('PUT', `${MODEL}/aliases/champion`, { auth: bob.basic, body: { version: 1, expected_version: null } })).status, 403);
    t.equal((await api('PUT', `${MODEL}/aliases/champion`, { auth: alice.basic, body: { version: 1, expected_version: null } })).status, 200);
    const needs = await api('PUT', `${MODEL}/aliases/reviewed`, { auth: alice.basic, body: { version: 2, expected_version: null } });
    t.same(needs.body.error.unmet, ['approvals: 0 of 2 needed']);
    for (const who of [alice, bob]) t.equal((await api('POST', `${MODEL}/versions/2/approvals`, { auth: who.basic, body: { alias: 'reviewed' } })).status, 200);
    t.equal((await api('PUT', `${MODEL}/aliases/reviewed`, { auth: alice.basic, body: { version: 2, expected_version: null } })).status, 200);
  });

  await t.test('download by alias and version: byte-identical, Range, ETag', async (t) => {
    const expected = modelBytes(0.5);
    const whole = await fetch(`${server.url}${MODEL}/aliases/production/download`, { headers: { authorization: `Basic ${Buffer.from(alice.basic).toString('base64')}` } });
    t.equal(whole.status, 200);
    t.equal(whole.headers.get('etag'), `"${sha256(expected)}"`);
    t.equal(whole.headers.get('x-model-version'), '3');
    t.ok(Buffer.from(await whole.arrayBuffer()).equals(expected), 'same bytes as the job wrote');
    const part = await fetch(`${server.url}${MODEL}/aliases/production/download`, { headers: { range: 'bytes=1000-1999' } });
    t.equal(part.status, 206, 'public repo: anonymous reads');
    t.equal(part.headers.get('content-range'), `bytes 1000-1999/${expected.length}`);
    t.ok(Buffer.from(await part.arrayBuffer()).equals(expected.subarray(1000, 2000)));
    const cached = await fetch(`${server.url}${MODEL}/versions/3/download`, { headers: { 'if-none-match': `"${sha256(expected)}"` } });
    t.equal(cached.status, 304);
    const latest = await fetch(`${server.url}${MODEL}/aliases/latest/download`);
    t.equal(latest.headers.get('x-model-version'), '3');
    const beyond = await fetch(`${server.url}${MODEL}/versions/1/download`, { headers: { range: `bytes=${expected.length}-` } });
    t.equal(beyond.status, 416);
    const head = await fetch(`${server.url}${MODEL}/aliases/production/download`, { method: 'HEAD' });
    t.equal(head.status, 200);
    t.equal(head.headers.get('content-length'), String(expected.length));
    t.equal(head.headers.get('etag'), `"${sha256(expected)}"`);
    t.equal((await head.arrayBuffer()).byteLength, 0, 'HEAD: headers only');
    const stale = await fetch(`${server.url}${MODEL}/aliases/production/download`, { headers: { range: 'bytes=0-9', 'if-range': '"not-the-sha"' } });
    t.equal(stale.status, 200, 'If-Range with another validator: the whole file');
  });

  await t.test('lineage: run, commit, params, metrics, change against the previous version', async (t) => {
    const lineage = await api('GET', `${MODEL}/versions/2/lineage`, { auth: alice.basic });
    t.equal(lineage.status, 200);
    t.match(lineage.body, { version: { version: 2 }, run: { id: second.train.id, job: 'train', status: 'success' }, commit: { sha: second.sha, message: 'acc 0.97' }, previous: { version: 1 } });
    t.match(lineage.body.previous.metrics, [{ metric: 'accuracy', base: 0.96, head: 0.97 }]);
  });

  await t.test('a client push under refs/models/ is refused', async (t) => {
    const push = await client.run(['push', 'origin', `${third.sha}:refs/models/clf/v9`], { cwd: dir });
    t.not(push.code, 0);
    t.match(push.stderr, 'refs/models/clf/v9: this ref is owned by mlgit');
    const moveAlias = await client.run(['push', '--force', 'origin', `${first.sha}:refs/models/clf/aliases/production`], { cwd: dir });
    t.not(moveAlias.code, 0);
    const refs = await lsRemote();
    t.notOk('refs/models/clf/v9' in refs);
    t.equal(refs['refs/models/clf/aliases/production'], third.sha, 'the alias ref stays where the registry put it');
  });

  await t.test('signed webhooks for both events', async (t) => {
    const events = await waitFor(() => {
      const seen = receiver.received.filter((r) => r.headers['x-mlgit-event'] !== 'ping');
      return seen.some((r) => r.json?.model === 'clf' && r.json?.version?.number === 3) && seen.some((r) => r.json?.alias === 'production' && r.json?.to_version === 3) ? seen : null;
    }, 30_000, 'model webhooks');
    for (const e of events) t.ok(verifySignature(SECRET, e.body, e.headers['x-hub-signature-256']), `${e.headers['x-mlgit-event']} is signed`);
    const created = events.filter((e) => e.headers['x-mlgit-event'] === 'model.version.created').map((e) => `${e.json.model} v${e.json.version.number}`);
    t.same(created.sort(), ['clf v1', 'clf v2', 'clf v3', 'clf-manual v1']);
    const moved = events.find((e) => e.headers['x-mlgit-event'] === 'model.alias.updated' && e.json.alias === 'production' && e.json.to_version === 3)!;
    t.match(moved.json, { from_version: 2, reason: 'rollback drill', repository: { full_name: REPO }, sender: { login: 'alice' } });
  });
});
