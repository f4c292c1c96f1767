// The web UI in a real browser (Debian's chromium driven by playwright-core, no browser download):
// sign in, explore, a model card with a hostile README (no dialog, no global set), a file view
// with a marked line range and the ref picker, commits, runs, metrics, compare, the repository's
// settings and a webhook's delivery, a token created and revoked, sign out; axe-core on every page
// (no serious or critical problem); screenshots at desktop and phone width in test/artifacts/web/,
// and no sideways scroll on a phone.
import t from 'tap';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { loadConfig } from '../server/config.ts';
import { seriousAxeProblems } from './helpers/axe.ts';
import { GitClient } from './helpers/git-client.ts';
import { startServer } from './helpers/server.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const ARTIFACTS = path.join(import.meta.dirname, 'artifacts', 'web');
const WIDTHS = [1280, 390];
const DOC_SHOTS = ['explore', 'model-home', 'tree-ref-picker', 'file', 'repo-settings', 'webhook-delivery', 'token-created'];

const README = `---
license: apache-2.0
library_name: scikit-learn
pipeline_tag: image-classification
tags: [digits, "<img src=x onerror=window.pwned=1>"]
datasets: [uci-digits]
---
# Digits classifier <script>window.pwned = 2</script>

A scikit-learn classifier of 8x8 handwritten digits. <img src=x onerror="window.pwned = 3">

<svg><script>window.pwned = 4</script></svg> [a link](javascript:window.pwned=5)

| metric | value |
|---|---|
| accuracy | 0.97 |

\`\`\`python
from sklearn.svm import SVC
model = SVC(gamma=0.001).fit(X_train, y_train)
\`\`\`
`;

const TRAIN = `"""Train an SVM on the digits data."""
import json
from sklearn.datasets import load_digits
from sklearn.svm import SVC


def main() -> None:
    digits = load_digits()
    model = SVC(gamma=0.001).fit(digits.data[:1500], digits.target[:1500])
    score = model.score(digits.data[1500:], digits.target[1500:])
    with open("metrics.json", "w") as out:
        json.dump({"accuracy": score, "a_rather_long_metric_name_that_should_scroll_inside_its_pane": score}, out)


if __name__ == "__main__":
    main()
`;

t.test('the web UI in chromium', { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (Debian's chromium package; .ci/run installs it)` }, async (t) => {
  const server = await startServer(t, { config: { webhooks: { ...loadConfig({}).webhooks, allow: ['127.0.0.1'] } } });
  const git = await GitClient.create(t);
  const alice = await server.user('alice');
  for (const [name, description] of [
    ['digits', 'Handwritten digit classifier <script>window.pwned = 6</script>'],
    ['mnist-small', 'A small slice of MNIST for smoke tests'],
  ]) {
    await server.api('POST', '/api/v1/repos', { auth: alice.tokenBasic, body: { name, description, kind: name === 'digits' ? 'model' : 'dataset' } });
  }
  const work = await git.workRepo('digits', [{ 'README.md': README, 'train.py': TRAIN, 'mlproject.yaml.example': 'name: digits\n', 'data/README.md': '# Data\n' }]);
  await git.ok(['tag', 'v1.0'], { cwd: work });
  await git.ok(['push', '-q', server.gitUrl('alice', 'digits', alice.tokenBasic), 'main', 'v1.0'], { cwd: work });
  // A hook nobody listens to: its ping fails, and the delivery page shows the failure.
  const hook = await server.api('POST', '/api/v1/repos/alice/digits/hooks', { auth: alice.basic, body: { url: 'http://127.0.0.1:1/hook', events: ['push'] } });
  t.equal(hook.status, 201);

  await fs.mkdir(path.join(ARTIFACTS, 'docs'), { recursive: true });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  t.teardown(() => browser.close());

  for (const width of WIDTHS) {
    await t.test(`${width} px wide`, async (t) => {
      const context = await browser.newContext({ viewport: { width, height: 900 } });
      t.teardown(() => context.close());
      const page = await context.newPage();
      const dialogs: string[] = [];
      page.on('dialog', (dialog) => {
        dialogs.push(dialog.message());
        void dialog.dismiss();
      });
      const shot = async (name: string) => {
        const file = path.join(ARTIFACTS, `${name}-${width}.png`);
        await page.screenshot({ path: file, fullPage: true });
        // The README's pictures (docs/screenshots/ holds copies): the first screenful only, to stay small.
        if (DOC_SHOTS.includes(name)) await page.screenshot({ path: path.join(ARTIFACTS, 'docs', `${name}-${width}.png`), clip: { x: 0, y: 0, width, height: width > 500 ? 640 : 780 } });
        return file;
      };
      const noSidewaysScroll = async (what: string, p: Page) => {
        const { scroll, viewport, wide } = await p.evaluate(() => ({
          scroll: document.documentElement.scrollWidth,
          viewport: window.innerWidth,
          // What sticks out, to name in the failure.
          wide: [...document.querySelectorAll('body *')]
            .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
            .slice(0, 5)
            .map((e) => `${e.tagName.toLowerCase()}.${e.className}`),
        }));
        t.ok(scroll <= viewport, `${what}: no horizontal scroll (${scroll} <= ${viewport}${wide.length ? `; too wide: ${wide.join(', ')}` : ''})`);
      };
      const accessible = async (what: string) => t.same(await seriousAxeProblems(page), [], `${what}: no serious or critical axe-core problem`);
      /** A page of the scenario: opened, checked by axe, no sideways scroll, a screenshot. */
      const view = async (name: string, url: string) => {
        await page.goto(`${server.url}${url}`);
        t.ok(((await page.title()) ?? '').endsWith(' · mlgit'), `${name}: a title`);
        await accessible(name);
        await noSidewaysScroll(name, page);
        await shot(name);
      };

      await page.goto(`${server.url}/login`);
      await accessible('sign-in');
      await page.fill('input[name=username]', 'alice');
      await page.fill('input[name=password]', alice.password);
      await Promise.all([page.waitForURL(`${server.url}/`), page.click('button[type=submit].primary')]);
      t.match(await page.textContent('header nav'), /Sign out/, 'signed in');

      await page.goto(`${server.url}/explore`);
      t.equal(await page.title(), 'Explore models and datasets · mlgit');
      await shot('explore');
      await noSidewaysScroll('explore', page);
      await accessible('explore');

      await page.goto(`${server.url}/alice/digits`);
      t.equal(await page.title(), 'alice/digits · mlgit');
      await page.waitForLoadState('load');
      t.same(dialogs, [], 'no dialog on the hostile model card');
      t.equal(await page.evaluate(() => (window as unknown as { pwned?: unknown }).pwned), undefined, 'no global set by the README');
      t.match(await page.textContent('.chips'), /library:\s*scikit-learn/, 'front matter chips');
      t.equal(await page.locator('.markdown table').count(), 1, 'the card renders its table');
      await shot('model-home');
      await noSidewaysScroll('model home', page);
      await accessible('model home');

      await page.goto(`${server.url}/alice/digits/tree/main`);
      await shot('tree');
      await noSidewaysScroll('tree', page);
      await accessible('tree');
      await page.click('details.ref-picker summary');
      t.ok(await page.isVisible('details.ref-picker .menu a:text("v1.0")'), 'the ref picker lists the tag');
      await accessible('tree with the ref picker open');
      await shot('tree-ref-picker');
      await Promise.all([page.waitForURL(`${server.url}/alice/digits/tree/v1.0`), page.click('details.ref-picker .menu a:text("v1.0")')]);
      t.match(await page.textContent('details.ref-picker summary'), /tag:\s*v1\.0/, 'the same folder at the tag');

      await page.goto(`${server.url}/alice/digits/blob/main/train.py#L9`);
      t.equal(await page.locator('tr#L9:target').count(), 1, 'the #L9 anchor targets its line');
      await shot('file');
      await noSidewaysScroll('file view (the code pane scrolls inside itself)', page);
      await accessible('file view');
      await page.goto(`${server.url}/alice/digits/blob/main/train.py#L9-L11`);
      t.same(await page.locator('tr.hl').evaluateAll((rows) => rows.map((r) => r.id)), ['L9', 'L10', 'L11'], '#L9-L11 marks the range');
      await page.click('tr#L2 td.ln a');
      await page.click('tr#L4 td.ln a', { modifiers: ['Shift'] });
      t.equal(new URL(page.url()).hash, '#L2-L4', 'shift-click extends the range');
      t.same(await page.locator('tr.hl').evaluateAll((rows) => rows.map((r) => r.id)), ['L2', 'L3', 'L4']);

      await view('commits', '/alice/digits/commits/main');
      await view('runs', '/alice/digits/runs');
      await view('metrics', '/alice/digits/metrics');
      await view('compare', '/alice/digits/compare');
      await view('repo-settings', '/alice/digits/settings');
      await view('webhook', `/alice/digits/settings/hooks/${hook.body.id}`);
      const delivery = page.locator('table.settings a.mono').first();
      if ((await delivery.count()) > 0) {
        await Promise.all([page.waitForURL(/\/deliveries\//), delivery.click()]);
        await accessible('webhook delivery');
        await noSidewaysScroll('webhook delivery', page);
        await shot('webhook-delivery');
      }

      // A token: created in the form, shown once, working; then revoked from the list.
      const name = `laptop-${width}`;
      await view('tokens', '/settings/tokens');
      await page.fill('input[name=name]', name);
      await Promise.all([page.waitForLoadState('load'), page.click('form[action="/settings/tokens"] button[type=submit]')]);
      const secret = (await page.getAttribute('pre.token', 'data-copy')) ?? '';
      t.match(secret, /^\S{20,}$/, 'the new token is on the page');
      t.equal((await server.api('GET', '/api/v1/user', { auth: `alice:${secret}` })).status, 200, 'and works');
      await accessible('new token');
      await shot('token-created');
      await page.goto(`${server.url}/settings/tokens`);
      t.notOk((await page.content()).includes(secret), 'never shown again');
      const row = page.locator('tr', { hasText: name });
      await Promise.all([page.waitForURL(`${server.url}/settings/tokens?done=revoked`), row.locator('button', { hasText: 'Revoke' }).click()]);
      t.equal(await page.locator('tr', { hasText: name }).count(), 0, 'revoked: gone from the list');
      t.equal((await server.api('GET', '/api/v1/user', { auth: `alice:${secret}` })).status, 401, 'and refused');
      await view('password', '/settings/password');

      await Promise.all([page.waitForURL(`${server.url}/`), page.click('header nav button:text("Sign out")')]);
      t.match(await page.textContent('header nav'), /Sign in/, 'signed out');
      await page.goto(`${server.url}/settings/tokens`);
      t.match(page.url(), /\/login\?next=%2Fsettings%2Ftokens$/, 'settings need signing in again');
      t.same(dialogs, [], 'no dialog anywhere');
    });
  }

  await t.test('dark colour scheme', async (t) => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: 'dark' });
    t.teardown(() => context.close());
    const page = await context.newPage();
    await page.goto(`${server.url}/alice/digits/blob/main/train.py`);
    const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    t.equal(background, 'rgb(13, 17, 23)', 'the dark palette applies');
    await page.screenshot({ path: path.join(ARTIFACTS, 'file-dark-1280.png'), fullPage: true });
  });
});
