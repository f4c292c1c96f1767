// The web UI in a real browser (Debian's chromium driven by playwright-core, no browser download):
// sign in, explore, a model card with a hostile README (no dialog, no global set), a file view;
// screenshots at desktop and phone width in test/artifacts/web/, and no sideways scroll on a phone.
import t from 'tap';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { GitClient } from './helpers/git-client.ts';
import { startServer } from './helpers/server.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const ARTIFACTS = path.join(import.meta.dirname, 'artifacts', 'web');
const WIDTHS = [1280, 390];

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
  const server = await startServer(t);
  const git = await GitClient.create(t);
  const alice = await server.user('alice');
  for (const [name, description] of [
    ['digits', 'Handwritten digit classifier <script>window.pwned = 6</script>'],
    ['mnist-small', 'A small slice of MNIST for smoke tests'],
  ]) {
    await server.api('POST', '/api/v1/repos', { auth: alice.tokenBasic, body: { name, description, kind: name === 'digits' ? 'model' : 'dataset' } });
  }
  const work = await git.workRepo('digits', [{ 'README.md': README, 'train.py': TRAIN, 'mlproject.yaml.example': 'name: digits\n', 'data/README.md': '# Data\n' }]);
  await git.ok(['push', '-q', server.gitUrl('alice', 'digits', alice.tokenBasic), 'main'], { cwd: work });

  await fs.mkdir(ARTIFACTS, { recursive: true });
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
        return file;
      };
      const noSidewaysScroll = async (what: string, p: Page) => {
        const { scroll, viewport } = await p.evaluate(() => ({ scroll: document.documentElement.scrollWidth, viewport: window.innerWidth }));
        t.ok(scroll <= viewport, `${what}: no horizontal scroll (${scroll} <= ${viewport})`);
      };

      await page.goto(`${server.url}/login`);
      await page.fill('input[name=username]', 'alice');
      await page.fill('input[name=password]', alice.password);
      await Promise.all([page.waitForURL(`${server.url}/`), page.click('button[type=submit].primary')]);
      t.match(await page.textContent('header nav'), /Sign out/, 'signed in');

      await page.goto(`${server.url}/explore`);
      t.equal(await page.title(), 'Explore models and datasets · mlgit');
      await shot('explore');
      await noSidewaysScroll('explore', page);

      await page.goto(`${server.url}/alice/digits`);
      t.equal(await page.title(), 'alice/digits · mlgit');
      await page.waitForLoadState('load');
      t.same(dialogs, [], 'no dialog on the hostile model card');
      t.equal(await page.evaluate(() => (window as unknown as { pwned?: unknown }).pwned), undefined, 'no global set by the README');
      t.match(await page.textContent('.chips'), /library:\s*scikit-learn/, 'front matter chips');
      t.equal(await page.locator('.markdown table').count(), 1, 'the card renders its table');
      await shot('model-home');
      await noSidewaysScroll('model home', page);

      await page.goto(`${server.url}/alice/digits/tree/main`);
      await shot('tree');
      await noSidewaysScroll('tree', page);

      await page.goto(`${server.url}/alice/digits/blob/main/train.py#L9`);
      t.equal(await page.locator('tr#L9:target').count(), 1, 'the #L9 anchor targets its line');
      await shot('file');
      await noSidewaysScroll('file view (the code pane scrolls inside itself)', page);
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
