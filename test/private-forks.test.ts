// Forks of private repositories (issue 16 hole 2): "alice gives bob read; bob forks; alice removes
// bob; bob PATCHes the fork to private: false; anonymous users then read alice's files and download
// her LFS weights from it". As on GitHub: such a fork stays private while its source is, and it goes
// when its owner loses read access to the source (collaborator removal, the source's deletion).
import t from 'tap';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { GitClient } from './helpers/git-client.ts';
import { startServer } from './helpers/server.ts';

const LFS = 'application/vnd.git-lfs+json';

t.test('a fork of a private repository never outlives the access it was made with', async (t) => {
  const server = await startServer(t);
  const git = await GitClient.create(t);
  // Admin-scoped tokens: repo owners manage collaborators and visibility.
  const user = (name: string) => server.user(name, ['read', 'write', 'admin']);
  const [alice, bob, carol, dave] = await Promise.all([user('alice'), user('bob'), user('carol'), user('dave')]);
  const weights = Buffer.from('secret model weights\n');
  const oid = createHash('sha256').update(weights).digest('hex');

  const api = server.api;
  const lfs = async (repo: string, operation: 'upload' | 'download', auth?: string) => {
    const headers: Record<string, string> = { accept: LFS, 'content-type': LFS };
    if (auth) headers.authorization = `Basic ${Buffer.from(auth).toString('base64')}`;
    const body = JSON.stringify({ operation, transfers: ['basic'], objects: [{ oid, size: weights.length }] });
    const response = await fetch(`${server.url}/${repo}.git/info/lfs/objects/batch`, { method: 'POST', headers, body });
    return { status: response.status, body: (await response.json()) as { objects?: { actions?: Record<string, { href: string; header: Record<string, string> }> }[] } };
  };
  const fetchObject = async (action: { href: string; header: Record<string, string> }) => {
    const response = await fetch(action.href, { headers: action.header });
    return { status: response.status, bytes: Buffer.from(await response.arrayBuffer()) };
  };
  const cloneAnonymously = async (repo: string) => {
    const [owner, name] = repo.split('/') as [string, string];
    const dir = path.join(git.home, `anonymous-${repo.replace('/', '-')}-${Date.now()}`);
    const result = await git.run(['clone', '-q', server.gitUrl(owner, name), dir]);
    return { code: result.code, readme: await fs.readFile(path.join(dir, 'README.md'), 'utf8').catch(() => null) };
  };

  // alice's private repository: a commit and her LFS weights.
  t.equal((await api('POST', '/api/v1/repos', { auth: alice.token, body: { name: 'weights', private: true } })).status, 201);
  const work = await git.workRepo('weights-work', [{ 'README.md': '# alice private\n' }]);
  await git.ok(['push', '-q', server.gitUrl('alice', 'weights', alice.tokenBasic), 'main'], { cwd: work });
  const upload = await lfs('alice/weights', 'upload', alice.tokenBasic);
  const put = upload.body.objects?.[0]?.actions?.upload;
  t.ok(put, 'alice is asked for the bytes');
  t.equal((await fetch(put!.href, { method: 'PUT', headers: put!.header, body: new Uint8Array(weights) })).status, 200, 'alice uploads her weights');
  const verify = upload.body.objects?.[0]?.actions?.verify;
  if (verify) await fetch(verify.href, { method: 'POST', headers: { ...verify.header, 'content-type': LFS }, body: JSON.stringify({ oid, size: weights.length }) });

  for (const [collaborator, role] of [
    [bob, 'read'],
    [dave, 'write'],
  ] as const) {
    t.equal((await api('PUT', `/api/v1/repos/alice/weights/collaborators/${collaborator.username}`, { auth: alice.token, body: { role } })).status, 204);
  }

  await t.test('the fork is private and cannot be made public while its source is private', async (t) => {
    const fork = await api('POST', '/api/v1/repos/alice/weights/forks', { auth: bob.token });
    t.equal(fork.status, 201);
    t.match(fork.body, { owner: 'bob', private: true });
    const published = await api('PATCH', '/api/v1/repos/bob/weights', { auth: bob.token, body: { private: false } });
    t.equal(published.status, 422, 'PATCH private: false is refused');
    t.match(published.body, { error: { code: 'invalid', message: /fork of the private repository alice\/weights: it stays private while its source is private/ } });
    t.equal((await api('PATCH', '/api/v1/repos/bob/weights', { auth: bob.token, body: { description: 'mine now' } })).status, 200, 'other changes are fine');
    t.equal((await api('GET', '/api/v1/repos/bob/weights')).status, 401, 'still hidden from anonymous users');
    t.equal((await cloneAnonymously('bob/weights')).readme, null, 'no anonymous clone');
    t.equal((await lfs('bob/weights', 'download')).status, 401, 'no anonymous LFS download');
  });

  // The chain that grows from bob's access: bob forks his fork, carol forks it through bob's grant.
  t.equal((await api('POST', '/api/v1/repos/bob/weights/forks', { auth: bob.token, body: { name: 'weights-2' } })).status, 201);
  t.equal((await api('PUT', '/api/v1/repos/bob/weights/collaborators/carol', { auth: bob.token, body: { role: 'read' } })).status, 204);
  t.equal((await api('POST', '/api/v1/repos/bob/weights/forks', { auth: carol.token })).status, 201);
  // Forks by people who keep their access: dave (write collaborator) and alice herself.
  t.equal((await api('POST', '/api/v1/repos/alice/weights/forks', { auth: dave.token })).status, 201);
  t.equal((await api('POST', '/api/v1/repos/alice/weights/forks', { auth: alice.token, body: { name: 'weights-mine' } })).status, 201);

  // What bob could take while he had access: a download action for the weights through his fork.
  const bobDownload = await lfs('bob/weights', 'download', bob.tokenBasic);
  const bobAction = bobDownload.body.objects?.[0]?.actions?.download;
  t.ok(bobAction, 'bob may download through his fork while he reads the source');
  t.ok((await fetchObject(bobAction!)).bytes.equals(weights));

  await t.test('removing bob removes his forks and the forks made through them, and nothing else', async (t) => {
    t.equal((await api('DELETE', '/api/v1/repos/alice/weights/collaborators/bob', { auth: alice.token })).status, 204);
    for (const [repo, auth] of [
      ['bob/weights', bob.token],
      ['bob/weights-2', bob.token],
      ['carol/weights', carol.token],
    ] as const) {
      t.equal((await api('GET', `/api/v1/repos/${repo}`, { auth })).status, 404, `${repo} is gone`);
    }
    t.equal((await api('GET', '/api/v1/repos/dave/weights', { auth: dave.token })).status, 200, "dave's fork stays: he still reads the source");
    t.equal((await api('GET', '/api/v1/repos/alice/weights-mine', { auth: alice.token })).status, 200, "alice's own fork stays");
    const log = await api('GET', '/api/v1/admin/audit?action=repo.delete', { auth: `${server.admin.username}:${server.admin.password}` });
    const targets = (log.body as { target: string; details: { reason?: string } }[]).filter((e) => e.details?.reason === 'bob lost read access to alice/weights').map((e) => e.target);
    t.same(targets.sort(), ['bob/weights', 'bob/weights-2', 'carol/weights'], 'each deleted fork is in the audit log with its reason');
  });

  await t.test("then nobody reads alice's files or weights through bob's fork", async (t) => {
    const published = await api('PATCH', '/api/v1/repos/bob/weights', { auth: bob.token, body: { private: false } });
    t.equal(published.status, 404, 'the PATCH finds no fork');
    const clone = await cloneAnonymously('bob/weights');
    t.not(clone.code, 0, 'anonymous clone refused');
    t.equal(clone.readme, null, "alice's README is not cloned");
    const bobClone = await git.run(['clone', '-q', server.gitUrl('bob', 'weights', bob.tokenBasic), path.join(git.home, 'bob-after')]);
    t.not(bobClone.code, 0, 'bob cannot clone it either');
    t.equal((await lfs('bob/weights', 'download')).status, 401, 'anonymous LFS batch: like any private or missing repo');
    t.equal((await lfs('bob/weights', 'download', bob.tokenBasic)).status, 404, "bob's LFS batch: not found");
    const replay = await fetchObject(bobAction!);
    t.equal(replay.status, 404, 'the download action bob took before is dead');
    t.notOk(replay.bytes.includes(weights), 'no weights');
    t.equal((await api('GET', '/api/v1/repos/alice/weights/lfs/objects', { auth: bob.token })).status, 404, 'and the source is hidden from bob again');
  });

  await t.test('deleting the private source deletes the forks others made of it; its owner keeps hers', async (t) => {
    t.equal((await api('DELETE', '/api/v1/repos/alice/weights', { auth: alice.token })).status, 204);
    t.equal((await api('GET', '/api/v1/repos/dave/weights', { auth: dave.token })).status, 404, "dave's fork went with the source");
    const mine = await api('GET', '/api/v1/repos/alice/weights-mine', { auth: alice.token });
    t.match(mine.body, { private: true, fork_parent_id: null }, "alice's own fork stays, detached");
    const clone = await git.run(['clone', '-q', server.gitUrl('alice', 'weights-mine', alice.tokenBasic), path.join(git.home, 'alice-mine')]);
    t.equal(clone.code, 0, clone.stderr);
  });

  await t.test("deleting a user hands the heir only the forks the heir may read", async (t) => {
    const [erin, frank, gus] = await Promise.all([user('erin'), user('frank'), user('gus')]);
    const adminAuth = `${server.admin.username}:${server.admin.password}`;
    t.equal((await api('POST', '/api/v1/repos', { auth: alice.token, body: { name: 'lab', private: true } })).status, 201);
    for (const reader of [erin, gus]) {
      t.equal((await api('PUT', `/api/v1/repos/alice/lab/collaborators/${reader.username}`, { auth: alice.token, body: { role: 'read' } })).status, 204);
    }
    t.equal((await api('POST', '/api/v1/repos/alice/lab/forks', { auth: erin.token })).status, 201, 'erin forks the private lab');
    t.equal((await api('POST', '/api/v1/repos/erin/lab/forks', { auth: erin.token, body: { name: 'lab-2' } })).status, 201, 'and forks her fork');
    t.equal((await api('POST', '/api/v1/repos', { auth: erin.token, body: { name: 'notes', private: true } })).status, 201, 'a repo of her own');

    const toFrank = await api('DELETE', '/api/v1/admin/users/erin?transfer_to=frank', { auth: adminAuth });
    t.equal(toFrank.status, 200, JSON.stringify(toFrank.body));
    t.same(toFrank.body, { deleted_repos: ['lab', 'lab-2'], transferred_repos: ['notes'], cancelled_runs: [] }, 'frank does not read alice/lab: its forks are deleted, not transferred');
    t.equal((await api('GET', '/api/v1/repos/frank/lab', { auth: frank.token })).status, 404, 'frank did not get the fork');
    t.equal((await api('GET', '/api/v1/repos/frank/lab-2', { auth: frank.token })).status, 404, 'nor the fork of the fork');
    t.equal((await api('GET', '/api/v1/repos/frank/notes', { auth: frank.token })).status, 200, "erin's own repo went to frank");

    const hana = await user('hana');
    t.equal((await api('PUT', '/api/v1/repos/alice/lab/collaborators/hana', { auth: alice.token, body: { role: 'read' } })).status, 204);
    t.equal((await api('POST', '/api/v1/repos/alice/lab/forks', { auth: hana.token })).status, 201);
    const toGus = await api('DELETE', '/api/v1/admin/users/hana?transfer_to=gus', { auth: adminAuth });
    t.same(toGus.body, { deleted_repos: [], transferred_repos: ['lab'], cancelled_runs: [] }, 'gus reads alice/lab: the fork is his now');
    t.match((await api('GET', '/api/v1/repos/gus/lab', { auth: gus.token })).body, { owner: 'gus', private: true });
  });

  await t.test('a source made public frees its forks; a source made private again splits off its public forks', async (t) => {
    t.equal((await api('POST', '/api/v1/repos', { auth: alice.token, body: { name: 'paper', private: true } })).status, 201);
    t.equal((await api('PUT', '/api/v1/repos/alice/paper/collaborators/carol', { auth: alice.token, body: { role: 'read' } })).status, 204);
    const fork = await api('POST', '/api/v1/repos/alice/paper/forks', { auth: carol.token });
    t.equal(fork.status, 201);
    t.equal((await api('PATCH', '/api/v1/repos/carol/paper', { auth: carol.token, body: { private: false } })).status, 422);
    t.equal((await api('PATCH', '/api/v1/repos/alice/paper', { auth: alice.token, body: { private: false } })).status, 200, 'alice publishes the source');
    const freed = await api('PATCH', '/api/v1/repos/carol/paper', { auth: carol.token, body: { private: false } });
    t.match(freed, { status: 200, body: { private: false, fork_parent_id: fork.body.fork_parent_id } }, 'the fork may be public now');
    t.equal((await api('PATCH', '/api/v1/repos/alice/paper', { auth: alice.token, body: { private: true } })).status, 200, 'alice closes the source again');
    t.match((await api('GET', '/api/v1/repos/carol/paper')).body, { private: false, fork_parent_id: null }, 'the public fork split off: it holds only what was public');
    t.equal((await api('DELETE', '/api/v1/repos/alice/paper/collaborators/carol', { auth: alice.token })).status, 204);
    t.equal((await api('GET', '/api/v1/repos/carol/paper')).status, 200, 'and it does not depend on carol reading the source');
  });
});
