// The web UI's settings (issue 10, view 9): repository settings for repo admins (general,
// collaborators, webhooks with their delivery log and redeliver) and the user's own (tokens,
// password), through session cookies over a real socket. Who gets which page, that each form does
// what the API does (checked through the API), that refused input is shown on the form with
// nothing lost, CSRF on every form, and hostile text (descriptions, webhook URLs and responses,
// token names) rendered inert.
import t from 'tap';
import { loadConfig } from '../server/config.ts';
import { GitClient } from './helpers/git-client.ts';
import { assertInert } from './helpers/inert-html.ts';
import { startServer } from './helpers/server.ts';
import { WebClient } from './helpers/web-client.ts';
import { WebhookReceiver } from './helpers/webhook-receiver.ts';

const HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(1)>';
const WAIT_MS = 30_000;

async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

t.test('web UI settings', async (t) => {
  const server = await startServer(t, { config: { authFailures: { max: 3, windowSeconds: 60 }, webhooks: { ...loadConfig({}).webhooks, allow: ['127.0.0.1'] } } });
  const receiver = await WebhookReceiver.start(t);
  receiver.answer = () => ({ status: 200, headers: { 'x-evil': HOSTILE.replace(/[^\x20-\x7e]/g, '') }, body: `<script>window.pwned=1</script>${HOSTILE}` });
  const git = await GitClient.create(t);
  const names = ['alice', 'bob', 'rita', 'wendy', 'adam', 'carl'] as const;
  const users = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await server.user(n)] as const))) as Record<(typeof names)[number], Awaited<ReturnType<typeof server.user>>>;
  const alice = users.alice;
  const work = await git.workRepo('model', [{ 'README.md': '# model\n' }]);
  await git.ok(['branch', 'dev'], { cwd: work });
  for (const [name, isPrivate] of [
    ['pub', false],
    ['priv', true],
  ] as const) {
    t.equal((await server.api('POST', '/api/v1/repos', { auth: alice.basic, body: { name, private: isPrivate } })).status, 201);
    for (const [user, role] of [
      ['rita', 'read'],
      ['wendy', 'write'],
      ['adam', 'admin'],
    ] as const) {
      t.equal((await server.api('PUT', `/api/v1/repos/alice/${name}/collaborators/${user}`, { auth: alice.basic, body: { role } })).status, 204);
    }
    await git.ok(['push', '-q', server.gitUrl('alice', name, alice.tokenBasic), '--all'], { cwd: work });
  }
  const hook = await server.api('POST', '/api/v1/repos/alice/priv/hooks', { auth: alice.basic, body: { url: `http://127.0.0.1:${receiver.port}/matrix`, events: ['push'] } });
  t.equal(hook.status, 201);
  const pingOf = async (owner: string, repo: string, id: number) =>
    until('the ping delivery', async () => {
      const list = await server.api('GET', `/api/v1/repos/${owner}/${repo}/hooks/${id}/deliveries`, { auth: alice.basic });
      return (list.body as { id: string; status: string }[]).find((d) => d.status === 'delivered');
    });
  const matrixDelivery = (await pingOf('alice', 'priv', hook.body.id)).id;

  const clients: Record<string, WebClient> = { anonymous: new WebClient(server.url) };
  for (const n of names) {
    clients[n] = new WebClient(server.url);
    t.equal((await clients[n]!.signIn(n, users[n].password)).status, 303, `${n} signs in`);
  }
  const owner = clients.alice!;

  await t.test('access: who gets which settings page', async (t) => {
    // [path, anonymous, outsider, read, write, admin collaborator, owner]
    const settingsOf = (repo: string, outsider: number) => [303, outsider, 403, 403, 200, 200];
    const cases: [string, ...number[]][] = [
      ['/alice/pub/settings', ...settingsOf('pub', 403)],
      ['/alice/priv/settings', ...settingsOf('priv', 404)],
      [`/alice/priv/settings/hooks/${hook.body.id}`, ...settingsOf('priv', 404)],
      [`/alice/priv/settings/hooks/${hook.body.id}/deliveries/${matrixDelivery}`, ...settingsOf('priv', 404)],
      // A missing repository answers as a private one; a hook of another repository is a missing hook.
      ['/alice/missing/settings', 303, 404, 404, 404, 404, 404],
      [`/alice/pub/settings/hooks/${hook.body.id}`, 303, 403, 403, 403, 404, 404],
      ['/alice/priv/settings/hooks/999999', 303, 404, 403, 403, 404, 404],
      ['/alice/priv/settings/hooks/x%3Cy', 303, 404, 403, 403, 404, 404],
      [`/alice/priv/settings/hooks/${hook.body.id}/deliveries/not-a-uuid`, 303, 404, 403, 403, 404, 404],
      ['/settings/tokens', 303, 200, 200, 200, 200, 200],
      ['/settings/password', 303, 200, 200, 200, 200, 200],
      ['/settings', 303, 303, 303, 303, 303, 303],
    ];
    const who = ['anonymous', 'carl', 'rita', 'wendy', 'adam', 'alice'];
    for (const [path, ...expected] of cases) {
      for (const [i, name] of who.entries()) {
        const page = await clients[name]!.get(path);
        t.equal(page.status, expected[i], `${name} GET ${path}`);
        if (page.status === 303 && name === 'anonymous') t.match(page.headers.get('location'), /^\/login\?next=/, `${name} ${path}: to sign-in`);
        if (page.status !== 303) {
          t.match(page.headers.get('content-type'), /^text\/html/, `${name} ${path}: a page`);
          t.ok(page.title && page.title.length > ' · mlgit'.length, `${name} ${path}: a title`);
          t.notMatch(page.text, /at [\w/.-]+\.ts:\d+/, `${name} ${path}: no stack trace`);
        }
      }
    }
    t.equal((await clients.carl!.get('/settings')).headers.get('location'), '/settings/tokens');
    t.match((await clients.adam!.get('/alice/pub')).text, /href="\/alice\/pub\/settings"/, 'the Settings tab for repo admins');
    t.notMatch((await clients.wendy!.get('/alice/pub')).text, /\/settings"/, 'not for writers');

    // Forms: each user posts with their own valid CSRF token; only admins get through.
    const posts: [string, Record<string, string>, ...number[]][] = [
      ['/alice/priv/settings', { description: 'matrix', visibility: 'private', default_branch: 'main' }, 401, 404, 403, 403, 303, 303],
      ['/alice/priv/settings/collaborators', { username: 'bob', role: 'read' }, 401, 404, 403, 403, 303, 303],
      ['/alice/pub/settings/collaborators/remove', { username: 'nobody' }, 401, 403, 403, 403, 404, 404],
      [`/alice/priv/settings/hooks/${hook.body.id}/deliveries/${matrixDelivery}/redeliver`, {}, 401, 404, 403, 403, 303, 303],
      ['/settings/tokens/999999/revoke', {}, 401, 404, 404, 404, 404, 404],
    ];
    for (const [path, form, ...expected] of posts) {
      for (const [i, name] of who.entries()) {
        const client = clients[name]!;
        await client.get(name === 'anonymous' ? '/login' : '/settings/tokens');
        const answer = await client.post(path, form);
        t.equal(answer.status, expected[i], `${name} POST ${path}`);
      }
    }
    // The matrix's admins changed these; put them back for the tests below.
    t.equal((await server.api('DELETE', '/api/v1/repos/alice/priv/collaborators/bob', { auth: alice.basic })).status, 204);
  });

  await t.test('CSRF: every settings form needs the session token', async (t) => {
    await owner.get('/alice/pub/settings');
    const other = new WebClient(server.url);
    await other.get('/login');
    const forms: [string, Record<string, string>][] = [
      ['/alice/pub/settings', { description: 'csrf', visibility: 'public' }],
      ['/alice/pub/settings/collaborators', { username: 'carl', role: 'admin' }],
      ['/alice/pub/settings/collaborators/remove', { username: 'rita' }],
      ['/alice/pub/settings/hooks', { url: `http://127.0.0.1:${receiver.port}/csrf`, 'event.push': 'on', active: 'on' }],
      [`/alice/priv/settings/hooks/${hook.body.id}`, { url: `http://127.0.0.1:${receiver.port}/csrf`, 'event.push': 'on' }],
      [`/alice/priv/settings/hooks/${hook.body.id}/delete`, {}],
      [`/alice/priv/settings/hooks/${hook.body.id}/deliveries/${matrixDelivery}/redeliver`, {}],
      ['/settings/tokens', { name: 'csrf', 'scope.read': 'on' }],
      ['/settings/tokens/1/revoke', {}],
      ['/settings/password', { current_password: alice.password, new_password: 'csrf-csrf-csrf' }],
    ];
    for (const [path, form] of forms) {
      t.equal((await owner.post(path, { ...form, _csrf: null })).status, 403, `${path}: no token`);
      t.equal((await owner.post(path, { ...form, _csrf: other.csrf })).status, 403, `${path}: another session's token`);
    }
    const repo = await server.api('GET', '/api/v1/repos/alice/pub', { auth: alice.basic });
    t.equal(repo.body.description, '', 'nothing changed');
    const collaborators = await server.api('GET', '/api/v1/repos/alice/pub/collaborators', { auth: alice.basic });
    t.same(collaborators.body.map((c: { username: string }) => c.username), ['adam', 'rita', 'wendy']);
    t.equal((await server.api('GET', `/api/v1/repos/alice/priv/hooks/${hook.body.id}`, { auth: alice.basic })).status, 200, 'the hook is still there');
    t.equal((await server.api('GET', '/api/v1/user', { auth: alice.basic })).status, 200, 'the password is unchanged');
  });

  await t.test('general settings: what PATCH /api/v1/repos does, refusals on the form', async (t) => {
    await owner.get('/alice/pub/settings');
    const saved = await owner.post('/alice/pub/settings', { description: `desc ${HOSTILE}`, visibility: 'private', default_branch: 'dev', protected_branches: 'main\r\nrelease/*\n\n' });
    t.equal(saved.status, 303);
    t.equal(saved.headers.get('location'), '/alice/pub/settings?done=saved');
    const repo = (await server.api('GET', '/api/v1/repos/alice/pub', { auth: alice.basic })).body;
    t.same([repo.description, repo.private, repo.default_branch, repo.protected_branches], [`desc ${HOSTILE}`, true, 'dev', ['main', 'release/*']]);
    const audit = await server.api('GET', '/api/v1/admin/audit?action=repo.visibility', { auth: `${server.admin.username}:${server.admin.password}` });
    t.ok(audit.body.some((e: { target: string }) => e.target === 'alice/pub'), 'the visibility change is audited');
    const page = await owner.get('/alice/pub/settings?done=saved');
    t.match(page.text, /Settings saved\./);
    t.match(page.text, /<option value="dev" selected>dev<\/option>/, 'the new default branch');
    t.match(page.text, /<textarea name="protected_branches" rows="3">main\nrelease\/\*<\/textarea>/);
    assertInert(t, page, 'settings with a hostile description');
    assertInert(t, await owner.get('/alice/pub'), 'the repo page with a hostile description');
    t.notMatch((await owner.get(`/alice/pub/settings?done=${encodeURIComponent(HOSTILE)}`)).text, /ok-box/, 'done= names a fixed notice, never text');

    // [what, form, status, message]: each refused with its reason, the form filled in again, nothing changed.
    const bad: [string, Record<string, string>, number, RegExp][] = [
      ['a bad protected branch', { description: 'kept text', visibility: 'public', default_branch: 'dev', protected_branches: 'main\na..b' }, 422, /branch/],
      ['a bad default branch', { description: 'kept text', visibility: 'public', default_branch: 'no spaces allowed', protected_branches: 'main' }, 422, /branch/],
      ['a description too long', { description: 'x'.repeat(2001), visibility: 'public', default_branch: 'dev', protected_branches: '' }, 422, /description/],
    ];
    for (const [what, form, status, message] of bad) {
      const answer = await owner.post('/alice/pub/settings', form);
      t.equal(answer.status, status, what);
      t.match(answer.text, /class="error-box" role="alert">/, `${what}: shown on the form`);
      t.match(answer.text, message, `${what}: the reason`);
      t.match(answer.text, form.description === 'kept text' ? /value="kept text"/ : /value="x{2001}"/, `${what}: what was typed is kept`);
      const after = (await server.api('GET', '/api/v1/repos/alice/pub', { auth: alice.basic })).body;
      t.same([after.description, after.private, after.default_branch, after.protected_branches], [`desc ${HOSTILE}`, true, 'dev', ['main', 'release/*']], `${what}: nothing changed`);
    }
    t.equal((await owner.post('/alice/pub/settings', { description: '', visibility: 'public', default_branch: 'main', protected_branches: '' })).status, 303, 'back to public');
    t.equal((await server.api('GET', '/api/v1/repos/alice/pub')).status, 200, 'public again');
  });

  await t.test('collaborators: add, change role, remove; refusals on the form', async (t) => {
    await owner.get('/alice/pub/settings');
    t.equal((await owner.post('/alice/pub/settings/collaborators', { username: 'carl', role: 'write' })).status, 303, 'add');
    t.equal((await owner.post('/alice/pub/settings/collaborators', { username: 'carl', role: 'admin' })).status, 303, 'change the role');
    let list = (await server.api('GET', '/api/v1/repos/alice/pub/collaborators', { auth: alice.basic })).body;
    t.same(list.find((c: { username: string }) => c.username === 'carl'), { username: 'carl', role: 'admin' });
    t.equal((await clients.carl!.get('/alice/pub/settings')).status, 200, 'carl administers it now');
    const page = await owner.get('/alice/pub/settings?done=collaborator');
    t.match(page.text, /Collaborator saved\./);
    t.match(page.text, /<td><a href="\/carl">carl<\/a><\/td><td>admin<\/td>/);
    t.equal((await owner.post('/alice/pub/settings/collaborators/remove', { username: 'carl' })).status, 303, 'remove');
    list = (await server.api('GET', '/api/v1/repos/alice/pub/collaborators', { auth: alice.basic })).body;
    t.notOk(list.some((c: { username: string }) => c.username === 'carl'), 'gone');
    t.equal((await clients.carl!.get('/alice/pub/settings')).status, 403, 'and so is his access');

    const bad: [string, Record<string, string>, number, RegExp][] = [
      ['no such user', { username: 'nobody', role: 'read' }, 404, /user &quot;nobody&quot; not found/],
      ['the owner', { username: 'alice', role: 'read' }, 422, /the owner is not a collaborator/],
      ['a bad role', { username: 'carl', role: 'god' }, 422, /role must be/],
      ['a hostile name', { username: HOSTILE, role: 'read' }, 404, /not found/],
    ];
    for (const [what, form, status, message] of bad) {
      const answer = await owner.post('/alice/pub/settings/collaborators', form);
      t.equal(answer.status, status, what);
      t.match(answer.text, message, `${what}: the reason on the form`);
      assertInert(t, answer, what);
    }
    const removeMissing = await owner.post('/alice/pub/settings/collaborators/remove', { username: 'carl' });
    t.equal(removeMissing.status, 404, 'removing someone who is not a collaborator');
    t.match(removeMissing.text, /collaborator &quot;carl&quot; not found/);
    list = (await server.api('GET', '/api/v1/repos/alice/pub/collaborators', { auth: alice.basic })).body;
    t.same(list.map((c: { username: string }) => c.username), ['adam', 'rita', 'wendy'], 'nothing changed');
  });

  await t.test('webhooks: create, delivery log, redeliver, delete; hostile URLs and responses', async (t) => {
    await owner.get('/alice/pub/settings');
    const url = `http://127.0.0.1:${receiver.port}/hook?q=${encodeURIComponent(HOSTILE)}#'onmouseover='alert(1)`;
    const created = await owner.post('/alice/pub/settings/hooks', { url, secret: 's3cret', 'event.push': 'on', 'event.run.completed': 'on', active: 'on' });
    t.equal(created.status, 303, 'created');
    const location = created.headers.get('location') ?? '';
    const id = Number(/\/alice\/pub\/settings\/hooks\/(\d+)\?done=created$/.exec(location)?.[1]);
    t.ok(id > 0, `to the hook's page: ${location}`);
    const apiHook = (await server.api('GET', `/api/v1/repos/alice/pub/hooks/${id}`, { auth: alice.basic })).body;
    t.same([apiHook.events, apiHook.active, apiHook.has_secret], [['push', 'run.completed'], true, true], 'as the API shows it');
    const ping = await pingOf('alice', 'pub', id);
    const hookPage = await owner.get(`/alice/pub/settings/hooks/${id}`);
    t.equal(hookPage.status, 200);
    t.match(hookPage.text, new RegExp(`href="/alice/pub/settings/hooks/${id}/deliveries/${ping.id}"`), 'the ping in the delivery log');
    t.match(hookPage.text, /<td>ping<\/td>/);
    t.match(hookPage.text, /<span class="status success">delivered · 200<\/span>/);
    assertInert(t, hookPage, 'the hook page with a hostile URL');
    t.notMatch(hookPage.text, /s3cret/, 'the secret is never shown');
    const settings = await owner.get('/alice/pub/settings');
    assertInert(t, settings, 'the settings page with a hostile hook URL');

    const deliveryPath = `/alice/pub/settings/hooks/${id}/deliveries/${ping.id}`;
    const delivery = await owner.get(deliveryPath);
    t.equal(delivery.status, 200);
    t.match(delivery.text, /&lt;script&gt;window\.pwned=1&lt;\/script&gt;/, "the receiver's hostile answer is text");
    t.match(delivery.text, /&quot;zen&quot;/, 'the request body');
    t.match(delivery.text, /x-hub-signature-256: sha256=/i, 'the request headers');
    assertInert(t, delivery, 'the delivery page');
    t.equal((await clients.adam!.get(deliveryPath)).status, 200, 'an admin collaborator reads it too');

    const again = await owner.post(`${deliveryPath}/redeliver`);
    t.equal(again.status, 303, 'redeliver');
    t.equal(again.headers.get('location'), `/alice/pub/settings/hooks/${id}?done=redelivered`);
    const pings = await until('the redelivery', async () => {
      const bodies = receiver.received.filter((r) => r.json?.hook_id === id).map((r) => r.body);
      return bodies.length >= 2 && bodies;
    });
    t.equal(pings[1], pings[0], 'the same body again');
    const log = await until('the redelivery in the log', async () => {
      const page = await owner.get(`/alice/pub/settings/hooks/${id}`);
      return /<span class="badge">redelivery<\/span>/.test(page.text) && page;
    });
    t.match(log.text, /Recent deliveries <span class="muted small">\(2\)<\/span>/);

    // [what, form, reason]: refused on the form with the reason, the URL kept, no hook made.
    const bad: [string, Record<string, string>, RegExp][] = [
      ['not http', { url: 'ftp://127.0.0.1/x', 'event.push': 'on' }, /url must use http or https/],
      ['not a URL', { url: HOSTILE, 'event.push': 'on' }, /url is not a valid URL/],
      ['a private address', { url: 'http://10.1.2.3/hook', 'event.push': 'on' }, /url refused/],
      ['credentials in it', { url: 'http://u:p@127.0.0.1/hook', 'event.push': 'on' }, /must not contain credentials/],
      ['no events', { url: `http://127.0.0.1:${receiver.port}/x` }, /events must be a non-empty list/],
      ['an unknown event', { url: `http://127.0.0.1:${receiver.port}/x`, [`event.${HOSTILE}`]: 'on' }, /unknown event/],
    ];
    for (const [what, form, reason] of bad) {
      const answer = await owner.post('/alice/pub/settings/hooks', { active: 'on', secret: 'never-echoed', ...form });
      t.equal(answer.status, 422, what);
      t.match(answer.text, reason, `${what}: the reason`);
      t.notMatch(answer.text, /never-echoed/, `${what}: the secret is not put back in the page`);
      assertInert(t, answer, what);
    }
    const hooks = (await server.api('GET', '/api/v1/repos/alice/pub/hooks', { auth: alice.basic })).body;
    t.equal(hooks.length, 1, 'no hook was made by a refused form');

    // Edit: URL, events, off and on again, a new secret (checked on the signature of the next delivery).
    const hookPath = `/alice/pub/settings/hooks/${id}`;
    await owner.get(hookPath);
    const newUrl = `http://127.0.0.1:${receiver.port}/edited`;
    const edited = await owner.post(hookPath, { url: newUrl, 'event.push': 'on', secret: '' });
    t.equal(edited.status, 303, 'edited');
    t.equal(edited.headers.get('location'), `${hookPath}?done=saved`);
    let after = (await server.api('GET', `/api/v1/repos/alice/pub/hooks/${id}`, { auth: alice.basic })).body;
    t.same([after.url, after.events, after.active, after.has_secret], [newUrl, ['push'], false, true], 'switched off, the secret kept');
    t.match((await owner.get(`${hookPath}?done=saved`)).text, /Webhook saved\./);
    const refused = await owner.post(hookPath, { url: 'ftp://127.0.0.1/x', 'event.push': 'on', active: 'on', secret: 'never-echoed' });
    t.equal(refused.status, 422, 'a refused edit');
    t.match(refused.text, /url must use http or https/);
    t.match(refused.text, /value="ftp:\/\/127\.0\.0\.1\/x"/, 'what was typed is kept');
    t.notMatch(refused.text, /never-echoed/, 'but not the secret');
    assertInert(t, refused, 'a refused hook edit');
    after = (await server.api('GET', `/api/v1/repos/alice/pub/hooks/${id}`, { auth: alice.basic })).body;
    t.same([after.url, after.active], [newUrl, false], 'nothing changed');
    t.equal((await owner.post(hookPath, { url: newUrl, 'event.push': 'on', 'event.ping': 'on', active: 'on', secret: 'n3w-secret' })).status, 303, 'on again, a new secret');
    t.equal((await server.api('GET', `/api/v1/repos/alice/pub/hooks/${id}`, { auth: alice.basic })).body.active, true);
    const seen = receiver.received.length;
    t.equal((await owner.post(`${deliveryPath}/redeliver`)).status, 303, 'redeliver to the edited hook');
    const resent = await until('the delivery to the new URL', async () => receiver.received.slice(seen).find((r) => r.json?.hook_id === id));
    const { createHmac } = await import('node:crypto');
    t.equal(resent.headers['x-hub-signature-256'], `sha256=${createHmac('sha256', 'n3w-secret').update(resent.body).digest('hex')}`, 'signed with the new secret');

    t.equal((await owner.post(`/alice/pub/settings/hooks/${id}/delete`)).status, 303, 'delete');
    t.equal((await server.api('GET', `/api/v1/repos/alice/pub/hooks/${id}`, { auth: alice.basic })).status, 404, 'gone');
    t.equal((await owner.get(`/alice/pub/settings/hooks/${id}`)).status, 404, 'its page too');
    t.equal((await owner.post(`/alice/pub/settings/hooks/${id}/delete`)).status, 404, 'deleting it again');
    const audit = await server.api('GET', '/api/v1/admin/audit?action=hook.delete', { auth: `${server.admin.username}:${server.admin.password}` });
    t.ok(audit.body.some((e: { target: string }) => e.target === 'alice/pub'), 'audited as through the API');
  });

  await t.test('tokens: created and shown once, listed, revoked', async (t) => {
    const bob = clients.bob!;
    await bob.get('/settings/tokens');
    const created = await bob.post('/settings/tokens', { name: `ci ${HOSTILE}`, 'scope.read': 'on' });
    t.equal(created.status, 201);
    t.equal(created.headers.get('cache-control'), 'no-store', 'a page with a secret is never cached');
    const secret = /<pre class="token" data-copy="([^"]+)">/.exec(created.text)?.[1] ?? '';
    t.match(secret, /^\S{20,}$/, 'the token is on the page');
    assertInert(t, created, 'the new token page with a hostile name');
    t.equal((await server.api('GET', '/api/v1/user', { auth: `bob:${secret}` })).status, 200, 'the token works');
    t.equal((await server.api('POST', '/api/v1/repos', { auth: `bob:${secret}`, body: { name: 'nope' } })).status, 403, 'with only its scopes');
    const list = await bob.get('/settings/tokens');
    t.notMatch(list.text, new RegExp(secret), 'never shown again');
    t.match(list.text, /ci &lt;script&gt;/, 'listed by name');
    assertInert(t, list, 'the token list with a hostile name');
    const tokenId = (await server.api('GET', '/api/v1/user/tokens', { auth: users.bob.basic })).body.find((x: { name: string }) => x.name.startsWith('ci '))!.id;

    const bad: [string, Record<string, string>, number, RegExp][] = [
      ['no name', { name: '', 'scope.read': 'on' }, 422, /name must be/],
      ['a name too long', { name: 'n'.repeat(101), 'scope.read': 'on' }, 422, /name must be/],
      ['no scope', { name: 'empty' }, 422, /scope/],
      ['an unknown scope', { name: 'odd', 'scope.root': 'on' }, 422, /scope/],
    ];
    const count = async () => (await server.api('GET', '/api/v1/user/tokens', { auth: users.bob.basic })).body.length;
    const tokensBefore = await count();
    for (const [what, form, status, reason] of bad) {
      const answer = await bob.post('/settings/tokens', form);
      t.equal(answer.status, status, what);
      t.match(answer.text, reason, `${what}: the reason`);
      t.match(answer.text, new RegExp(`value="${form.name}"`), `${what}: the name kept`);
    }
    t.equal(await count(), tokensBefore, 'no token made by a refused form');

    t.equal((await clients.carl!.post(`/settings/tokens/${tokenId}/revoke`)).status, 404, "another user's token cannot be revoked");
    const revoked = await bob.post(`/settings/tokens/${tokenId}/revoke`);
    t.equal(revoked.status, 303);
    t.equal(revoked.headers.get('location'), '/settings/tokens?done=revoked');
    t.equal((await server.api('GET', '/api/v1/user', { auth: `bob:${secret}` })).status, 401, 'the token no longer works');
    t.match((await bob.get('/settings/tokens?done=revoked')).text, /Token revoked/);
    t.equal((await bob.post(`/settings/tokens/${tokenId}/revoke`)).status, 404, 'revoking it again');
  });

  await t.test('password: the current one is needed, other sessions end, this one goes on', async (t) => {
    const carl = clients.carl!;
    const elsewhere = new WebClient(server.url);
    t.equal((await elsewhere.signIn('carl', users.carl.password)).status, 303, 'carl is signed in elsewhere too');
    await carl.get('/settings/password');
    const wrong = await carl.post('/settings/password', { current_password: 'not-it', new_password: 'carl-new-password' });
    t.equal(wrong.status, 403, 'a wrong current password');
    t.match(wrong.text, /The current password is not right/);
    const short = await carl.post('/settings/password', { current_password: users.carl.password, new_password: 'short' });
    t.equal(short.status, 422, 'too short');
    t.match(short.text, /password must be/);
    t.equal((await server.api('GET', '/api/v1/user', { auth: users.carl.basic })).status, 200, 'nothing changed');

    const changed = await carl.post('/settings/password', { current_password: users.carl.password, new_password: 'carl-new-password' });
    t.equal(changed.status, 303);
    t.equal(changed.headers.get('location'), '/settings/password?done=password');
    t.match((await carl.get('/settings/password?done=password')).text, /Password changed/, 'this browser stays signed in');
    t.equal((await elsewhere.get('/settings/tokens')).status, 303, 'the other session ended');
    t.equal((await server.api('GET', '/api/v1/user', { auth: users.carl.basic })).status, 401, 'the old password is refused');
    t.equal((await server.api('GET', '/api/v1/user', { auth: 'carl:carl-new-password' })).status, 200, 'the new one works');
    t.equal((await server.api('GET', '/api/v1/user', { auth: users.carl.tokenBasic })).status, 200, 'tokens stay valid');

    // Wrong current passwords count as guesses with the API's (3 here): the first wrong one above,
    // the old password through the API, this one; then the limiter stops them.
    t.equal((await carl.post('/settings/password', { current_password: 'guess', new_password: 'whatever-long' })).status, 403);
    const limited = await carl.post('/settings/password', { current_password: 'carl-new-password', new_password: 'whatever-long' });
    t.equal(limited.status, 429, 'then even the right one waits');
    t.ok(Number(limited.headers.get('retry-after')) > 0);
  });
});
