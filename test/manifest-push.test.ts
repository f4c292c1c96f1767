// pre-receive validation of mlproject.yaml, end to end: the real git client pushes to a real
// mlgit; what the pusher sees (`remote:` lines in mlproject.md's format) and whether the ref moved.
import t from 'tap';
import fs from 'node:fs/promises';
import path from 'node:path';
import { GitClient } from './helpers/git-client.ts';
import { startServer } from './helpers/server.ts';

const lines = (...ls: string[]): string => `${ls.join('\n')}\n`;

const VALID = lines(
  'version: 1',
  'name: digits-classifier',
  'image: localhost/mlgit-python:bookworm',
  'datasets:',
  '  digits: {path: data/digits.csv}',
  'jobs:',
  '  prepare:',
  '    kind: custom',
  '    command: python prepare.py',
  '  train:',
  '    kind: train',
  '    depends_on: [prepare]',
  '    command: python train.py --data ${{ datasets.digits.path }} --out ${{ outputs_dir }}/model.joblib',
  '    inputs: [train.py, data/]',
  'triggers:',
  '  push: {branches: [main, "exp/**"]}',
  '  tag: {tags: ["v*"]}',
);
const SOURCES = { 'train.py': 'print("train")\n', 'prepare.py': 'print("prepare")\n', 'data/digits.csv': '1,2\n' };

/** VALID with three errors: an unknown key (line 11), an unknown job (line 13), a missing input (line 15). */
const THREE_ERRORS = lines(
  'version: 1',
  'name: digits-classifier',
  'image: localhost/mlgit-python:bookworm',
  'datasets:',
  '  digits: {path: data/digits.csv}',
  'jobs:',
  '  prepare:',
  '    kind: custom',
  '    command: python prepare.py',
  '  train:',
  '    timout: 10m',
  '    kind: train',
  '    depends_on: [prep]',
  '    command: python train.py',
  '    inputs: [train.py, nope.py]',
  'triggers:',
  '  push: {branches: [main, "exp/**"]}',
  '  tag: {tags: ["v*"]}',
);

/** The `remote:` lines git printed, without the prefix and git's trailing padding. */
function remoteLines(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('remote: '))
    .map((l) => l.slice('remote: '.length).replace(/\s+$/, ''));
}

t.test('pre-receive validates mlproject.yaml', async (t) => {
  const server = await startServer(t);
  const git = await GitClient.create(t);
  const alice = await server.user('alice');

  // Every push that reaches post-receive, with its push options (the dispatcher's input).
  const postReceived: Array<{ refs: string[]; options: string[] }> = [];
  const dispatcher = server.services.runs.dispatcher;
  const original = dispatcher.dispatchPush.bind(dispatcher);
  dispatcher.dispatchPush = async (repo, pusherId, updates, options, dispatchIdOf) => {
    postReceived.push({ refs: updates.map((u) => u.ref), options: [...options] });
    return original(repo, pusherId, updates, options, dispatchIdOf);
  };

  let n = 0;
  /** A new repo and a work tree with one commit of `files`; `prepare` may add what files cannot (symlinks). */
  async function project(files: Record<string, string | Buffer>, prepare?: (dir: string) => Promise<void>): Promise<{ dir: string; url: string; sha: string }> {
    const name = `p${++n}`;
    const created = await server.api('POST', '/api/v1/repos', { auth: alice.basic, body: { name } });
    if (created.status !== 201) throw new Error(`create repo: ${created.status}`);
    const dir = await git.workRepo(name, []);
    await prepare?.(dir);
    const sha = await git.commit(dir, files, 'manifest');
    const url = server.gitUrl('alice', name, alice.tokenBasic);
    await git.ok(['remote', 'add', 'origin', url], { cwd: dir });
    return { dir, url, sha };
  }
  const remoteRefs = async (url: string): Promise<Record<string, string>> => {
    const out = await git.ok(['ls-remote', url]);
    return Object.fromEntries(out.split('\n').filter(Boolean).map((l) => l.split('\t').reverse() as [string, string]));
  };

  await t.test('a valid manifest is accepted silently', async (t) => {
    const p = await project({ 'mlproject.yaml': VALID, ...SOURCES });
    const push = await git.run(['push', 'origin', 'main'], { cwd: p.dir });
    t.equal(push.code, 0, push.stderr);
    t.notMatch(push.stderr, /mlproject\.yaml/);
    t.equal((await remoteRefs(p.url))['refs/heads/main'], p.sha);
  });

  await t.test('an invalid manifest is rejected with every error, code frames and carets, and the ref does not move', async (t) => {
    const p = await project({ 'mlproject.yaml': VALID, ...SOURCES });
    await git.ok(['push', 'origin', 'main'], { cwd: p.dir });
    const bad = await git.commit(p.dir, { 'mlproject.yaml': THREE_ERRORS }, 'break the manifest');
    const push = await git.run(['push', 'origin', 'main'], { cwd: p.dir });
    t.not(push.code, 0);
    t.match(push.stderr, /\[remote rejected\] main -> main \(pre-receive hook declined\)/);
    const remote = remoteLines(push.stderr);
    const start = remote.findIndex((l) => l.startsWith('mlproject.yaml in refs/heads/main'));
    t.ok(start >= 0, 'a header names the ref');
    t.match(remote[start], `mlproject.yaml in refs/heads/main (${bad.slice(0, 7)}): 3 errors; the push is rejected because refs/heads/main runs jobs`);
    t.same(remote.slice(start + 1, start + 10), [
      'mlproject.yaml:11:5: error: jobs.train.timout: unknown key "timout"; did you mean "timeout"?',
      '    timout: 10m',
      '    ^',
      'mlproject.yaml:13:18: error: jobs.train.depends_on[0]: unknown job "prep"; did you mean "prepare"?',
      '    depends_on: [prep]',
      '                 ^',
      'mlproject.yaml:15:24: error: jobs.train.inputs[1]: path "nope.py" is not in the pushed tree',
      '    inputs: [train.py, nope.py]',
      '                       ^',
    ]);
    t.equal((await remoteRefs(p.url))['refs/heads/main'], p.sha, 'the ref is unchanged');
  });

  await t.test('warnings are shown and the push lands', async (t) => {
    const p = await project({ 'mlproject.yaml': VALID.replace('image: localhost/mlgit-python:bookworm', 'image: python'), ...SOURCES });
    const push = await git.run(['push', 'origin', 'main'], { cwd: p.dir });
    t.equal(push.code, 0, push.stderr);
    const remote = remoteLines(push.stderr);
    const start = remote.findIndex((l) => l.startsWith('mlproject.yaml in'));
    t.same(remote.slice(start, start + 4), [
      `mlproject.yaml in refs/heads/main (${p.sha.slice(0, 7)}): 1 warning`,
      'mlproject.yaml:3:8: warning: image: image "python" has no tag and means ":latest"; pin a tag or digest so runs are reproducible',
      'image: python',
      '       ^',
    ]);
    t.equal((await remoteRefs(p.url))['refs/heads/main'], p.sha);
  });

  await t.test('errors on a ref that runs no jobs are shown as warnings and do not block', async (t) => {
    const p = await project({ 'mlproject.yaml': THREE_ERRORS, ...SOURCES });
    const feature = await git.run(['push', 'origin', 'main:refs/heads/feature'], { cwd: p.dir });
    t.equal(feature.code, 0, feature.stderr);
    const remote = remoteLines(feature.stderr);
    t.ok(remote.some((l) => /^mlproject\.yaml in refs\/heads\/feature \(.{7}\): 3 errors shown as warnings, not blocking: refs\/heads\/feature does not trigger runs/.test(l)));
    t.ok(remote.includes('mlproject.yaml:13:18: warning: jobs.train.depends_on[0]: unknown job "prep"; did you mean "prepare"?'));
    t.notOk(remote.some((l) => / error: /.test(l)));
    t.equal((await remoteRefs(p.url))['refs/heads/feature'], p.sha);

    // The same commit on a branch its triggers name is rejected.
    const exp = await git.run(['push', 'origin', 'main:refs/heads/exp/a/b'], { cwd: p.dir });
    t.not(exp.code, 0);
    t.match(exp.stderr, /remote: mlproject\.yaml:13:18: error: jobs\.train\.depends_on\[0\]: unknown job "prep"/);
    t.equal((await remoteRefs(p.url))['refs/heads/exp/a/b'], undefined);

    // Without a triggers section only the default branch runs jobs.
    const untriggered = await project({ 'mlproject.yaml': 'version: 1\nname: x\njobs: {}\n' });
    t.equal((await git.run(['push', 'origin', 'main:refs/heads/dev'], { cwd: untriggered.dir })).code, 0);
    const main = await git.run(['push', 'origin', 'main'], { cwd: untriggered.dir });
    t.not(main.code, 0);
    t.match(main.stderr, /remote: mlproject\.yaml:3:7: error: jobs: at least one job is required/);
  });

  await t.test('`on:` instead of `triggers:` is an error that says so', async (t) => {
    const p = await project({ 'mlproject.yaml': VALID.replace('triggers:', 'on:'), ...SOURCES });
    const push = await git.run(['push', 'origin', 'main'], { cwd: p.dir });
    t.not(push.code, 0);
    t.match(push.stderr, /remote: mlproject\.yaml:15:1: error: on: unknown key "on"; use "triggers:" instead \(YAML 1\.1 parsers such as PyYAML read a bare "on" key as true\)\s*\n/);
    t.match(push.stderr, /remote: on:\s*\nremote: \^/);
  });

  await t.test('hostile manifests: a YAML bomb and a 10 MB file are refused quickly', async (t) => {
    const bomb = lines(
      'version: 1',
      'name: bomb',
      'a: &a ["x","x","x","x","x","x","x","x","x","x"]',
      'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]',
      'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]',
      'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]',
      'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]',
      'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]',
      'g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]',
      'jobs: *g',
    );
    const p = await project({ 'mlproject.yaml': bomb });
    const started = Date.now();
    const push = await git.run(['push', 'origin', 'main:refs/heads/any-branch'], { cwd: p.dir });
    t.not(push.code, 0, 'a manifest that cannot be read blocks every ref');
    t.match(push.stderr, /remote: mlproject\.yaml:\d+:\d+: error: too many alias expansions \(limit 50\); refusing a possible YAML bomb/);
    t.ok(Date.now() - started < 30_000);

    const big = await project({ 'mlproject.yaml': Buffer.alloc(10 * 1024 * 1024, '#') });
    const bigPush = await git.run(['push', 'origin', 'main'], { cwd: big.dir });
    t.not(bigPush.code, 0);
    t.match(bigPush.stderr, /remote: mlproject\.yaml:1:1: error: manifest is 10485760 bytes; the limit is 1048576 bytes\s*\n/);
    t.same(await remoteRefs(big.url), {});
  });

  await t.test('paths escaping the repository and paths missing from the pushed tree', async (t) => {
    const manifest = VALID.replace('inputs: [train.py, data/]', 'inputs: [../secrets, /etc/passwd, data/../../x, missing/dir/, data/]');
    const p = await project({ 'mlproject.yaml': manifest, ...SOURCES });
    const push = await git.run(['push', 'origin', 'main'], { cwd: p.dir });
    t.not(push.code, 0);
    const errors = remoteLines(push.stderr).filter((l) => l.startsWith('mlproject.yaml:'));
    t.same(errors, [
      'mlproject.yaml:14:14: error: jobs.train.inputs[0]: path "../secrets" contains ".."; paths must stay inside the repository',
      'mlproject.yaml:14:26: error: jobs.train.inputs[1]: path "/etc/passwd" is absolute; paths are relative to the repository root',
      'mlproject.yaml:14:39: error: jobs.train.inputs[2]: path "data/../../x" contains ".."; paths must stay inside the repository',
      'mlproject.yaml:14:53: error: jobs.train.inputs[3]: path "missing/dir" is not in the pushed tree',
    ]);
  });

  await t.test('mlproject.yaml as a symlink is refused', async (t) => {
    const p = await project({ 'real.yaml': VALID, ...SOURCES }, async (dir) => {
      await fs.symlink('real.yaml', path.join(dir, 'mlproject.yaml'));
    });
    t.equal((await git.ok(['ls-files', '-s', 'mlproject.yaml'], { cwd: p.dir })).slice(0, 6), '120000', 'committed as a symlink');
    const push = await git.run(['push', 'origin', 'main:refs/heads/topic'], { cwd: p.dir });
    t.not(push.code, 0);
    t.match(push.stderr, /remote: mlproject\.yaml:1:1: error: mlproject\.yaml is a symbolic link; the manifest must be a regular file at the repository root\s*\n/);
  });

  await t.test('tags: a tag its triggers name is validated (annotated too); others only warn', async (t) => {
    const p = await project({ 'mlproject.yaml': THREE_ERRORS, ...SOURCES });
    await git.ok(['tag', '-a', 'v1.0', '-m', 'release'], { cwd: p.dir });
    await git.ok(['tag', 'nightly'], { cwd: p.dir });
    const release = await git.run(['push', 'origin', 'v1.0'], { cwd: p.dir });
    t.not(release.code, 0);
    t.match(release.stderr, /remote: mlproject\.yaml in refs\/tags\/v1\.0 \(.{7}\): 3 errors; the push is rejected because refs\/tags\/v1\.0 runs jobs/);
    const nightly = await git.run(['push', 'origin', 'nightly'], { cwd: p.dir });
    t.equal(nightly.code, 0, nightly.stderr);
    t.match(nightly.stderr, /shown as warnings, not blocking/);
    t.same(Object.keys(await remoteRefs(p.url)), ['refs/tags/nightly']);
  });

  await t.test('deleting a branch whose tip has a broken manifest is not validated', async (t) => {
    const p = await project({ 'mlproject.yaml': THREE_ERRORS, ...SOURCES });
    await git.ok(['push', 'origin', 'main:refs/heads/scratch'], { cwd: p.dir });
    const del = await git.run(['push', 'origin', '--delete', 'scratch'], { cwd: p.dir });
    t.equal(del.code, 0, del.stderr);
    t.notMatch(del.stderr, /mlproject/);
    t.same(await remoteRefs(p.url), {});
  });

  await t.test('git push -o ci.skip lands and its options reach post-receive; it never skips validation', async (t) => {
    const p = await project({ 'mlproject.yaml': VALID, ...SOURCES });
    const push = await git.run(['push', '-o', 'ci.skip', '-o', 'note=hello world', 'origin', 'main'], { cwd: p.dir });
    t.equal(push.code, 0, push.stderr);
    t.equal((await remoteRefs(p.url))['refs/heads/main'], p.sha);
    t.same(postReceived.at(-1), { refs: ['refs/heads/main'], options: ['ci.skip', 'note=hello world'] });

    await git.commit(p.dir, { 'mlproject.yaml': THREE_ERRORS }, 'break it');
    const skipped = await git.run(['push', '-o', 'ci.skip', 'origin', 'main'], { cwd: p.dir });
    t.not(skipped.code, 0, 'ci.skip skips dispatch, not validation');
    t.equal((await remoteRefs(p.url))['refs/heads/main'], p.sha);
  });

  await t.test('a push without a manifest is not affected', async (t) => {
    const p = await project({ 'README.md': '# hi\n' });
    const push = await git.run(['push', 'origin', 'main'], { cwd: p.dir });
    t.equal(push.code, 0, push.stderr);
    t.notMatch(push.stderr, /mlproject/);
  });
});
