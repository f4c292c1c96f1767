// The README's screenshots, taken from a running mlgit with Debian's chromium (playwright-core, no
// browser download): the pages of one public repository, at a desktop and a phone width.
//
//   node --import tsx scripts/screenshots.ts --url http://127.0.0.1:3000 --repo demo/digits [--out docs/screenshots]
//
// Push examples/digits first (README quickstart, or `npm run demo` with a server kept running) and
// wait for its runs: the pages show what the repository holds, nothing is staged here.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { chromium, type Page } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const WIDTHS = { desktop: 1280, phone: 390 } as const;

interface Shot {
  readonly name: string;
  readonly path: (repo: string, ids: { trainRun: number | null }) => string | null;
  readonly width: keyof typeof WIDTHS;
}

const SHOTS: readonly Shot[] = [
  { name: 'model-home-1280', path: (repo) => `/${repo}`, width: 'desktop' },
  { name: 'model-home-390', path: (repo) => `/${repo}`, width: 'phone' },
  { name: 'runs-1280', path: (repo) => `/${repo}/runs`, width: 'desktop' },
  { name: 'run-1280', path: (repo, ids) => (ids.trainRun === null ? null : `/${repo}/runs/${ids.trainRun}`), width: 'desktop' },
  { name: 'metrics-1280', path: (repo) => `/${repo}/metrics`, width: 'desktop' },
  { name: 'commits-1280', path: (repo) => `/${repo}/commits/main`, width: 'desktop' },
];

async function trainRun(url: string, repo: string): Promise<number | null> {
  const response = await fetch(`${url}/api/v1/repos/${repo}/runs?job=train&per_page=1`);
  if (!response.ok) throw new Error(`GET /api/v1/repos/${repo}/runs: ${response.status} (is the repository public and pushed?)`);
  const runs = (await response.json()) as { id: number }[];
  return runs[0]?.id ?? null;
}

async function shoot(page: Page, url: string, file: string): Promise<void> {
  const response = await page.goto(url, { waitUntil: 'networkidle' });
  if (!response?.ok()) throw new Error(`${url}: ${response?.status() ?? 'no answer'}`);
  await page.screenshot({ path: file });
  process.stdout.write(`${file}\n`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { url: { type: 'string', default: 'http://127.0.0.1:3000' }, repo: { type: 'string' }, out: { type: 'string', default: 'docs/screenshots' } } });
  if (!values.repo || !/^[\w.-]+\/[\w.-]+$/.test(values.repo)) throw new Error('--repo owner/name is required');
  const ids = { trainRun: await trainRun(values.url, values.repo) };
  await mkdir(values.out, { recursive: true });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    for (const [width, pixels] of Object.entries(WIDTHS)) {
      const page = await browser.newPage({ viewport: { width: pixels, height: width === 'phone' ? 844 : 800 } });
      for (const shot of SHOTS.filter((s) => s.width === width)) {
        const target = shot.path(values.repo, ids);
        if (target !== null) await shoot(page, values.url + target, path.join(values.out, `${shot.name}.png`));
      }
      await page.close();
    }
  } finally {
    await browser.close();
  }
}

await main();
