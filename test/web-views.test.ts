// The web UI's pages (issue 10): who sees what (anonymous, outsider, owner on a public and a
// private repo, through session cookies), sign-in and sign-out, CSRF, the security headers, and a
// table of hostile content that must come out as text, never as markup that runs.
import t from 'tap';
import { GitClient } from './helpers/git-client.ts';
import { assertInert } from './helpers/inert-html.ts';
import { startServer } from './helpers/server.ts';
import { WebClient } from './helpers/web-client.ts';

const HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(1)>';
const HOSTILE_README = `---
license: "<script>alert('license')</script>"
library_name: '" onmouseover="alert(1)'
tags: ['<img src=x onerror=alert(1)>', "javascript:alert(1)"]
datasets: ["<svg onload=alert(1)>"]
base_model: org/base
pipeline_tag: image-classification
---
# Card <script>window.pwned = 1</script>

<img src=x onerror="window.pwned = 2">
<div onclick="alert(1)">raw html</div>
<a href="javascript:alert(1)">raw link</a>
<iframe src="https://evil.example/"></iframe>
<svg><script>alert(1)</script></svg>
<style>body { display: none }</style>

[js](javascript:alert(1)) [JS](JaVaScRiPt:alert(1)) [entity](jav&#x61;script:alert(1)) [vb](vbscript:msgbox(1))
[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==) ![svg](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)
![x](javascript:alert(1)) [ok](docs/guide.md) <javascript:alert(1)>

\`\`\`html
</code></pre><script>alert(1)</script>
\`\`\`

${'- '.repeat(200)}deep

| a | b |
|---|---|
${'| <b>x</b> | <i>y</i> |\n'.repeat(300)}
`;
const HOSTILE_NAMES = ['q"uote.txt', "apos'trophe.txt", '<lt>&amp.txt', 'rtl\u202Egnp.exe.txt', 'd"ir<x>/inner.md'];

t.test('web UI pages', async (t) => {
  const server = await startServer(t, { config: { authFailures: { max: 3, windowSeconds: 60 } } });
  const git = await GitClient.create(t);
  await git.enableLfs();
  const [alice, bob] = await Promise.all([server.user('alice'), server.user('bob')]);
  for (const [name, isPrivate] of [
    ['model', false],
    ['secret', true],
  ] as const) {
    const created = await server.api('POST', '/api/v1/repos', { auth: alice.tokenBasic, body: { name, private: isPrivate, description: `${name} ${HOSTILE}` } });
    t.equal(created.status, 201);
  }
  const work = await git.workRepo('model', []);
  await git.ok(['lfs', 'track', '*.bin'], { cwd: work });
  const weights = Buffer.alloc(300_000, 7);
  const files: Record<string, string | Buffer> = {
    'README.md': HOSTILE_README,
    'docs/guide.md': '# Guide\n',
    'train.py': 'def train():\n    """a\n    docstring"""\n    return "<script>alert(1)</script>"\n',
    'evil.svg': '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(1)</script></svg>\n',
    'blob.dat': Buffer.from([0, 1, 2, 3, 0, 255]),
    'weights.bin': weights,
  };
  for (const name of HOSTILE_NAMES) files[name] = `${HOSTILE}\n`;
  await git.commit(work, files, `commit ${HOSTILE}`);
  await git.ok(['branch', 'evil"><svg/onload=alert(1)>'], { cwd: work });
  await git.ok(['branch', 'feature/x'], { cwd: work });
  await git.ok(['push', '-q', server.gitUrl('alice', 'model', alice.tokenBasic), '--all'], { cwd: work });
  await git.ok(['push', '-q', server.gitUrl('alice', 'secret', alice.tokenBasic), 'main'], { cwd: work });

  const anonymous = new WebClient(server.url);
  const owner = new WebClient(server.url);
  const outsider = new WebClient(server.url);
  t.equal((await owner.signIn('alice', alice.password)).status, 303, 'alice signs in');
  t.equal((await outsider.signIn('bob', bob.password)).status, 303, 'bob signs in');

  await t.test('access: anonymous, outsider and owner on the public and the private repo', async (t) => {
    // [path, anonymous, outsider, owner]
    const cases: [string, number, number, number][] = [
      ['/', 200, 200, 200],
      ['/explore?kind=model', 200, 200, 200],
      ['/alice', 200, 200, 200],
      ['/nobody-here', 404, 404, 404],
      ['/new', 303, 200, 200],
      ['/alice/model', 200, 200, 200],
      ['/alice/model/tree/main', 200, 200, 200],
      ['/alice/model/tree/main/docs', 200, 200, 200],
      ['/alice/model/blob/main/train.py', 200, 200, 200],
      ['/alice/model/raw/main/train.py', 200, 200, 200],
      ['/alice/model/resolve/main/weights.bin', 200, 200, 200],
      ['/alice/model/tree/feature%2Fx/docs', 200, 200, 200],
      ['/alice/model/tree/main/nope', 404, 404, 404],
      ['/alice/model/tree/no-such-branch', 404, 404, 404],
      ['/alice/secret', 303, 404, 200],
      ['/alice/secret/tree/main', 303, 404, 200],
      ['/alice/secret/blob/main/train.py', 303, 404, 200],
      ['/alice/secret/raw/main/train.py', 303, 404, 200],
      ['/alice/secret/resolve/main/weights.bin', 303, 404, 200],
      // A missing repo looks exactly like a private one.
      ['/alice/missing', 303, 404, 404],
    ];
    for (const [path, ...expected] of cases) {
      for (const [i, [who, client]] of ([
        ['anonymous', anonymous],
        ['outsider', outsider],
        ['owner', owner],
      ] as const).entries()) {
        const page = await client.get(path);
        t.equal(page.status, expected[i], `${who} GET ${path}`);
        if (page.status === 303) t.match(page.headers.get('location'), /^\/login\?next=/, `${who} ${path}: to sign-in`);
        if (page.headers.get('content-type')?.startsWith('text/html')) {
          t.ok(page.title && page.title.length > ' · mlgit'.length, `${who} ${path}: a title`);
          t.notMatch(page.text, /at [\w/.-]+\.ts:\d+|Error:/, `${who} ${path}: no stack trace`);
        }
        t.equal(page.headers.get('x-content-type-options'), 'nosniff', `${who} ${path}: nosniff`);
        t.ok(page.headers.get('content-security-policy'), `${who} ${path}: CSP`);
      }
    }
    t.match((await anonymous.get('/alice')).text, /alice\/model/, 'the user page lists the public repo');
    t.notMatch((await anonymous.get('/alice')).text, /alice\/secret/, 'not the private one to anonymous');
    t.notMatch((await outsider.get('/explore')).text, /alice\/secret/, 'nor in explore to an outsider');
    t.match((await owner.get('/explore')).text, /alice\/secret/, 'the owner sees it');
    t.match((await anonymous.get('/explore?kind=dataset')).text, /No repositories yet/, 'kind filter');
    t.match((await anonymous.get('/explore?q=model')).text, /alice\/model/, 'search');
    t.equal((await anonymous.get('/api/v1/nope')).headers.get('content-type'), 'application/json; charset=utf-8', 'the API keeps its JSON 404');
  });

  await t.test('model card, side panel, files and LFS', async (t) => {
    const home = await anonymous.get('/alice/model');
    t.equal(home.title, 'alice/model · mlgit');
    t.match(home.text, /<li><b>task:<\/b> image-classification<\/li>/, 'front matter chips');
    t.match(home.text, /<b>base model:<\/b> org\/base/);
    t.notMatch(home.text, /pipeline_tag:/, 'the front matter itself is not in the card');
    t.match(home.text, /git clone http:\/\/127\.0\.0\.1:\d+\/alice\/model\.git/, 'clone URL');
    t.match(home.text, /No runs yet/);
    t.notMatch(home.text, /action="\/alice\/model\/fork"/, 'no fork button for anonymous');
    t.match((await outsider.get('/alice/model')).text, /action="\/alice\/model\/fork"/, 'a fork button for signed-in users');
    t.match(home.text, /href="\/alice\/model\/blob\/main\/docs\/guide\.md"/, 'relative README links open the file page');

    const tree = await anonymous.get('/alice/model/tree/main');
    t.match(tree.text, /weights\.bin<\/a> <span class="badge" title="stored with Git LFS">LFS<\/span> <a href="\/alice\/model\/resolve\/main\/weights\.bin" download>download<\/a><\/td>\s*<td class="size">300 KB</, 'LFS badge with the real size');
    t.match(tree.text, /<h2>README\.md<\/h2>/, 'folder README');
    // As a browser asks (with text/html): the pages' routes; other clients get the Hugging Face API's (test/hf-*.test.ts).
    const browser = { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } };
    const download = await fetch(`${server.url}/alice/model/resolve/main/weights.bin`, browser);
    t.equal(download.headers.get('content-type'), 'application/octet-stream');
    t.match(download.headers.get('content-disposition'), /^attachment; filename="weights\.bin"/);
    t.same(Buffer.from(await download.arrayBuffer()), weights, 'the LFS object, not the pointer');

    const code = await anonymous.get('/alice/model/blob/main/train.py');
    t.match(code.text, /<tr id="L2"><td class="ln"><a href="#L2">2<\/a><\/td><td class="line">/, 'line anchors');
    t.match(code.text, /<span class="hljs-keyword">def<\/span>/, 'highlighted on the server');
    t.match(code.text, /<tr id="L3">.*<span class="hljs-string"> {4}docstring&quot;&quot;&quot;<\/span><\/td>/, 'a multi-line string is closed and reopened per line');
    const raw = await fetch(`${server.url}/alice/model/raw/main/evil.svg`, browser);
    t.equal(raw.headers.get('content-type'), 'text/plain; charset=utf-8', 'raw SVG is text');
    t.equal(raw.headers.get('content-security-policy'), "default-src 'none'; sandbox");
    t.equal(raw.headers.get('x-content-type-options'), 'nosniff');
    const binary = await anonymous.get('/alice/model/blob/main/blob.dat');
    t.match(binary.text, /This is a binary file/, 'binary guard');
    const lfsFile = await anonymous.get('/alice/model/blob/main/weights.bin');
    t.match(lfsFile.text, /stored with Git LFS \(300 KB/, 'an LFS file page shows the object, not the pointer');
    const preview = await anonymous.get('/alice/model/blob/main/docs/guide.md');
    t.match(preview.text, /<h1>Guide<\/h1>/, 'markdown preview');
    t.match((await anonymous.get('/alice/model/blob/main/docs/guide.md?plain=1')).text, /# Guide/, 'markdown source');
    t.equal((await anonymous.get('/alice/model/tree/main/train.py')).status, 302, 'a file under /tree/ goes to its page');
    t.match((await anonymous.get('/alice/model/tree/feature%2Fx')).text, /href="\/alice\/model\/blob\/feature%2Fx\/train\.py"/, 'a ref with a slash is one segment in links');
    await server.api('POST', '/api/v1/repos', { auth: alice.tokenBasic, body: { name: 'empty' } });
    const empty = await anonymous.get('/alice/empty/tree/main');
    t.equal(empty.status, 200, "an empty repository's Files tab");
    t.match(empty.text, /This repository is empty/);

    const invalid = await git.workRepo('badcard', [{ 'README.md': '---\nlicense: [unclosed\n---\n# Card\n' }]);
    await server.api('POST', '/api/v1/repos', { auth: alice.tokenBasic, body: { name: 'badcard' } });
    await git.ok(['push', '-q', server.gitUrl('alice', 'badcard', alice.tokenBasic), 'main'], { cwd: invalid });
    const bad = await anonymous.get('/alice/badcard');
    t.match(bad.text, /class="warning"/, 'a banner for invalid front matter');
    t.match(bad.text, /<h1>Card<\/h1>/, 'and the card still renders');
  });

  await t.test('hostile content renders as text on every page that shows it', async (t) => {
    const pages = [
      '/',
      `/explore?q=${encodeURIComponent(HOSTILE)}`,
      '/alice',
      '/alice/model',
      '/alice/model/tree/main',
      '/alice/model/blob/main/README.md',
      '/alice/model/blob/main/README.md?plain=1',
      '/alice/model/blob/main/evil.svg',
      '/alice/model/blob/main/train.py',
      `/alice/model/tree/${encodeURIComponent('evil"><svg/onload=alert(1)>')}`,
      `/alice/model/tree/main/${encodeURIComponent('d"ir<x>')}`,
      ...HOSTILE_NAMES.map((name) => `/alice/model/blob/main/${name.split('/').map(encodeURIComponent).join('/')}`),
      `/nobody/${encodeURIComponent('x<script>')}`,
      `/login?next=${encodeURIComponent('javascript:alert(1)')}`,
    ];
    for (const path of pages) {
      for (const [who, client] of [
        ['anonymous', anonymous],
        ['owner', owner],
      ] as const) {
        const page = await client.get(path);
        t.ok(page.status < 500, `${who} ${path}: ${page.status}`);
        assertInert(t, page, `${who} ${path}`);
      }
    }
    const card = await anonymous.get('/alice/model');
    t.match(card.text, /&lt;script&gt;alert\(&#39;license&#39;\)&lt;\/script&gt;/, 'a hostile chip is shown as text');
    t.match(card.text, /<a href="\/alice\/model">model<\/a><\/h1>/, 'the page still works');
    const tree = await anonymous.get('/alice/model/tree/main');
    t.match(tree.text, /q&quot;uote\.txt/, 'quotes in names are escaped');
    t.match(tree.text, /href="\/alice\/model\/blob\/main\/q%22uote\.txt"/, 'and encoded in links');
    t.match(tree.text, /&lt;lt&gt;&amp;amp\.txt/, '< and & in names are escaped');
  });

  await t.test('sign-in, CSRF, the limiter and the audit log, sign-out', async (t) => {
    const visitor = new WebClient(server.url);
    const form = await visitor.get('/login');
    t.equal(form.title, 'Sign in · mlgit');
    t.match(form.headers.get('set-cookie'), /^mlgit_session=[^;]+; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Lax$/, 'an anonymous session for the form');
    t.equal((await visitor.post('/login', { username: 'alice', password: alice.password, _csrf: null })).status, 403, 'no CSRF token: refused');
    t.equal((await visitor.post('/login', { username: 'alice', password: alice.password, _csrf: 'forged' })).status, 403, 'a wrong CSRF token: refused');
    const cookieless = new WebClient(server.url);
    cookieless.csrf = visitor.csrf;
    t.equal((await cookieless.post('/login', { username: 'alice', password: alice.password })).status, 403, "another session's token: refused");

    for (let i = 0; i < 3; i++) t.equal((await visitor.post('/login', { username: 'carol', password: 'wrong' })).status, i < 3 ? 401 : 429, `wrong password ${i + 1}`);
    const limited = await visitor.post('/login', { username: 'carol', password: 'wrong' });
    t.equal(limited.status, 429, 'then the limiter refuses');
    t.ok(Number(limited.headers.get('retry-after')) > 0, 'with Retry-After');
    const audit = await server.api('GET', '/api/v1/admin/audit?action=login.failed', { auth: `${server.admin.username}:${server.admin.password}` });
    t.ok(audit.body.some((e: { actor: string }) => e.actor === 'carol'), 'failed sign-ins are audited');

    const signedIn = await visitor.post('/login', { username: 'alice', password: alice.password, next: '//evil.example/' });
    t.equal(signedIn.status, 303);
    t.equal(signedIn.headers.get('location'), '/', 'next must be a path on this site');
    const oldCookie = visitor.cookieHeader();
    const home = await visitor.get('/');
    t.match(home.text, /Sign out/);
    t.equal((await visitor.get('/alice/secret')).status, 200);

    t.equal((await visitor.post('/new', { name: 'from-form', description: 'made in the form', kind: 'dataset', visibility: 'private' })).status, 303, 'new repository form');
    const made = await server.api('GET', '/api/v1/repos/alice/from-form', { auth: alice.tokenBasic });
    t.same([made.body.kind, made.body.private, made.body.description], ['dataset', true, 'made in the form']);
    t.equal((await visitor.post('/new', { name: 'from-form' })).status, 409, 'a taken name is shown on the form');
    t.equal((await visitor.post('/new', { name: 'x', _csrf: null })).status, 403, 'no CSRF token, no repository');

    await outsider.get('/alice/model');
    t.equal((await outsider.post('/alice/model/fork')).status, 303, 'fork');
    t.equal((await server.api('GET', '/api/v1/repos/bob/model')).status, 200, 'the fork exists');

    t.equal((await visitor.post('/logout')).status, 303, 'sign out');
    t.equal((await visitor.get('/alice/secret')).status, 303, 'signed out');
    const replay = await fetch(`${server.url}/alice/secret`, { headers: { cookie: oldCookie }, redirect: 'manual' });
    t.equal(replay.status, 303, 'the old cookie ended with the sign-out');
    t.equal((await owner.get('/alice/secret')).status, 303, "sign-out ends the user's other sessions too (credential version)");
  });

  await t.test('after sign-in, only a path on this site is followed', async (t) => {
    for (const [next, location] of [
      ['/alice/secret?x=1', '/alice/secret?x=1'],
      ['//evil.example/', '/'],
      ['/\\evil.example/', '/'],
      ['/\t/evil.example/', '/'],
      ['https://evil.example/', '/'],
      ['/caf\u00e9', '/'],
    ]) {
      const client = new WebClient(server.url);
      await client.get('/login');
      const response = await client.post('/login', { username: 'bob', password: bob.password, next: next! });
      t.equal(response.headers.get('location'), location, JSON.stringify(next));
    }
  });

  await t.test('ref picker, goto and permalink', async (t) => {
    const sha = (await git.ok(['rev-parse', 'HEAD'], { cwd: work })).trim();
    const tree = await anonymous.get('/alice/model/tree/main/docs');
    t.match(tree.text, /<summary><span class="muted">branch:<\/span> <b>main<\/b><\/summary>/, 'the current ref');
    t.match(tree.text, /<li><a href="\/alice\/model\/tree\/main\/docs" class="on" aria-current="true">main<\/a><\/li>/, 'the default branch first, marked');
    t.match(tree.text, /<li><a href="\/alice\/model\/tree\/feature%2Fx\/docs">feature\/x<\/a><\/li>/, 'another branch at the same path');
    t.match(tree.text, /<form action="\/alice\/model\/goto" method="get">/, 'a box for any ref or SHA');
    const atSha = await anonymous.get(`/alice/model/blob/${sha}/train.py`);
    t.match(atSha.text, /<span class="muted">commit:<\/span> <b>[0-9a-f]{8}<\/b>/, 'a SHA is shown short');
    t.notMatch(atSha.text, /Permalink/, 'a page at a SHA is its own permalink');
    t.match((await anonymous.get('/alice/model/blob/main/train.py')).text, new RegExp(`<a href="/alice/model/blob/${sha}/train\\.py" title="this file at commit ${sha}">Permalink</a>`), 'permalink to the SHA');
    // [query, client, status, location]
    const cases: [string, WebClient, number, string | null][] = [
      ['/alice/model/goto?ref=feature%2Fx&view=blob&path=docs%2Fguide.md', anonymous, 302, '/alice/model/blob/feature%2Fx/docs/guide.md'],
      [`/alice/model/goto?ref=${sha.slice(0, 10)}&view=tree&path=`, anonymous, 302, `/alice/model/tree/${sha.slice(0, 10)}`],
      ['/alice/model/goto?ref=+main+&view=odd&path=docs', anonymous, 302, '/alice/model/tree/main/docs'],
      ['/alice/model/goto?ref=no-such-ref&view=tree', anonymous, 404, null],
      ['/alice/model/goto?ref=', anonymous, 404, null],
      ['/alice/model/goto?ref=main&path=..%2Fsecret', anonymous, 422, null],
      [`/alice/model/goto?ref=${encodeURIComponent('evil"><svg/onload=alert(1)>')}`, anonymous, 302, `/alice/model/tree/${encodeURIComponent('evil"><svg/onload=alert(1)>')}`],
      ['/alice/secret/goto?ref=main', anonymous, 303, null],
      ['/alice/secret/goto?ref=main', outsider, 404, null],
    ];
    for (const [path, client, status, location] of cases) {
      const answer = await client.get(path);
      t.equal(answer.status, status, path);
      if (location) t.equal(answer.headers.get('location'), location, `${path}: where to`);
    }
  });

  await t.test('sign-up is closed unless MLGIT_SIGNUP=open', async (t) => {
    t.equal((await anonymous.get('/signup')).status, 404);
  });

  await t.test('static assets: hashed names, long cache', async (t) => {
    const page = await anonymous.get('/');
    const css = /href="(\/static\/site\.[0-9a-f]+\.css)"/.exec(page.text)![1]!;
    const response = await fetch(server.url + css);
    t.equal(response.status, 200);
    t.equal(response.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    t.match(response.headers.get('content-type'), /^text\/css/);
  });
});

t.test('open sign-up and a public URL over https', async (t) => {
  const server = await startServer(t, { database: 'pglite', config: { signup: 'open', publicUrl: 'https://hub.example' } });
  const visitor = new WebClient(server.url);
  const form = await visitor.get('/signup');
  t.equal(form.status, 200);
  t.match(form.headers.get('set-cookie'), /^__Host-mlgit_session=.*; HttpOnly; SameSite=Lax; Secure$/, 'Secure and __Host- behind https');
  const created = await visitor.post('/signup', { username: 'dora', password: 'a-long-enough-password' });
  t.equal(created.status, 303);
  t.equal(created.headers.get('location'), '/dora');
  t.match((await visitor.get('/dora')).text, /Sign out/, 'signed in after sign-up');
  t.match((await visitor.get('/new')).title, /New repository/);
});
