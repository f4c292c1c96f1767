// Explore (issue 10, view 1): filters by kind and by the model card's task, library and license
// (read from each README's front matter, kept per push), the latest run and headline metric per
// row, the same visibility as the API's search, and hostile card values kept as text.
import t from 'tap';
import { GitClient } from './helpers/git-client.ts';
import { assertInert } from './helpers/inert-html.ts';
import { manifest, pushProject, startRunsServer, waitForRuns } from './helpers/runs.ts';
import { WebClient } from './helpers/web-client.ts';

const HOSTILE = '"><img src=x onerror=alert(1)>';
const card = (fields: string) => `---\n${fields}\n---\n# Card\n`;
const PROJECT = manifest(`jobs:
  train:
    kind: train
    command: cp m.json metrics.json
    metrics: {path: metrics.json, format: json, primary: accuracy, goals: {accuracy: maximize}}
    timeout: 1m
`);

/** The repositories a page lists, in order. */
function listed(page: { text: string }): string[] {
  return [...page.text.matchAll(/<a class="name" href="[^"]+">([^<]+)<\/a>/g)].map((m) => m[1]!);
}

t.test('explore: card-tag filters and the headline metric', async (t) => {
  const server = await startRunsServer(t, { runtime: 'process' });
  const git = await GitClient.create(t);
  const alice = await server.user('alice');
  const clf = await pushProject(server, git, alice, 'clf', {
    'README.md': card('pipeline_tag: image-classification\nlibrary_name: sklearn\nlicense: mit\ntags: [digits, tabular]'),
    'mlproject.yaml': PROJECT,
    'm.json': JSON.stringify({ accuracy: 0.9375, loss: 0.1 }),
  });
  t.equal(clf.push.code, 0, clf.push.stderr);
  const [run] = await waitForRuns(server, alice.basic, 'alice/clf', clf.sha);
  t.equal(run.status, 'success', 'the run that gives clf its headline');
  const lm = await pushProject(server, git, alice, 'lm', { 'README.md': card('pipeline_tag: text-generation\nlibrary_name: transformers\nlicense: apache-2.0') });
  t.equal(lm.push.code, 0);
  t.equal((await server.api('POST', '/api/v1/repos', { auth: alice.basic, body: { name: 'digits-data', kind: 'dataset' } })).status, 201);
  const data = await git.workRepo('data', [{ 'README.md': card('license: mit\ntags: digits') }]);
  await git.ok(['push', '-q', server.gitUrl('alice', 'digits-data', alice.basic), 'main'], { cwd: data });
  t.equal((await server.api('POST', '/api/v1/repos', { auth: alice.basic, body: { name: 'secret', private: true } })).status, 201);
  await git.ok(['push', '-q', server.gitUrl('alice', 'secret', alice.basic), 'main:main'], { cwd: data });
  const evil = await pushProject(server, git, alice, 'evil', { 'README.md': card(`license: '${HOSTILE}'\nlibrary_name: "<script>alert(1)</script>"\ntags: ['${HOSTILE}']`) });
  t.equal(evil.push.code, 0);
  await pushProject(server, git, alice, 'plain', { 'README.md': '# no front matter\n' });

  const anonymous = new WebClient(server.url);
  const owner = new WebClient(server.url);
  t.equal((await owner.signIn('alice', alice.password)).status, 303);

  await t.test('filter links from the cards, with counts', async (t) => {
    const page = await anonymous.get('/explore');
    t.equal(page.status, 200);
    t.match(page.text, /<a href="\/explore\?task=image-classification">image-classification <span class="muted">1<\/span><\/a>/);
    t.match(page.text, /<a href="\/explore\?library=sklearn">sklearn <span class="muted">1<\/span><\/a>/);
    t.match(page.text, /<a href="\/explore\?license=mit">mit <span class="muted">2<\/span><\/a>/, 'the private repo is not counted for anonymous visitors');
    t.match((await owner.get('/explore')).text, /<a href="\/explore\?license=mit">mit <span class="muted">3<\/span><\/a>/, 'its owner counts it');
    assertInert(t, page, 'explore with hostile card values');
  });

  await t.test('filters, alone and together, with kind and search', async (t) => {
    // [query, who, repositories listed]
    const cases: [string, WebClient, string[]][] = [
      ['license=mit', anonymous, ['alice/digits-data', 'alice/clf']],
      ['license=mit', owner, ['alice/secret', 'alice/digits-data', 'alice/clf']],
      ['license=mit&kind=dataset', anonymous, ['alice/digits-data']],
      ['license=mit&task=image-classification', anonymous, ['alice/clf']],
      ['library=transformers', anonymous, ['alice/lm']],
      ['task=image-classification&license=apache-2.0', anonymous, []],
      ['q=digits&license=mit', anonymous, ['alice/digits-data']],
      [`license=${encodeURIComponent(HOSTILE)}`, anonymous, ['alice/evil']],
      [`license=${'x'.repeat(300)}`, anonymous, []],
      ['license=', anonymous, ['alice/plain', 'alice/evil', 'alice/digits-data', 'alice/lm', 'alice/clf']],
      ['license=mit&page=abc', anonymous, ['alice/digits-data', 'alice/clf']],
    ];
    for (const [query, client, expected] of cases) {
      const page = await client.get(`/explore?${query}`);
      t.equal(page.status, 200, query);
      t.same(listed(page), expected, query);
      if (expected.length === 0) t.match(page.text, /No repository matches this search/, `${query}: says so`);
      assertInert(t, page, query);
    }
    const filtered = await anonymous.get('/explore?license=mit&kind=model');
    t.match(filtered.text, /<a class="on" href="\/explore\?kind=model" aria-label="Clear the license filter mit">mit ×<\/a>/, 'an active filter clears with one click, keeping the others');
    t.match(filtered.text, /<span class="muted">1 repository<\/span>/);
  });

  await t.test('rows: card chips, latest run and headline metric', async (t) => {
    const page = await anonymous.get('/explore?task=image-classification');
    t.match(page.text, /<ul class="chips"><li title="task">image-classification<\/li><li title="library">sklearn<\/li><li title="license">mit<\/li><li class="tag">digits<\/li><li class="tag">tabular<\/li><\/ul>/);
    t.match(page.text, /latest run on main: <span class="status success"/);
    t.match(page.text, /<span class="headline" title="train: accuracy">accuracy <b>0\.9375<\/b><\/span>/, 'the primary metric of the latest run');
    t.match((await anonymous.get('/alice')).text, /accuracy <b>0\.9375<\/b>/, "and on the user's page");
    const evilRow = await anonymous.get('/explore?q=evil');
    t.match(evilRow.text, /<li title="license">&quot;&gt;&lt;img src=x onerror=alert\(1\)&gt;<\/li>/, 'a hostile license is text');
  });

  await t.test('a push changes the card: the filter follows at once', async (t) => {
    await git.commit(lm.dir, { 'README.md': card('pipeline_tag: text-generation\nlibrary_name: transformers\nlicense: mit') }, 'relicense');
    await git.ok(['push', '-q', 'origin', 'main'], { cwd: lm.dir });
    t.same(listed(await anonymous.get('/explore?license=mit')), ['alice/lm', 'alice/digits-data', 'alice/clf']);
    t.same(listed(await anonymous.get('/explore?license=apache-2.0')), []);
  });
});
