import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';

export interface AxeProblem {
  readonly id: string;
  readonly impact: string;
  readonly help: string;
  /** Selectors of the first elements it was found on. */
  readonly targets: string[];
}

const require = createRequire(import.meta.url);
let source: Promise<string> | null = null;

/**
 * The serious and critical accessibility problems axe-core finds on the page (WCAG 2.1 A and AA
 * rules and axe's best practices). axe is evaluated through the DevTools protocol, which the
 * page's Content-Security-Policy does not govern: the page itself keeps refusing inline scripts.
 */
export async function seriousAxeProblems(page: Page): Promise<AxeProblem[]> {
  source ??= readFile(require.resolve('axe-core/axe.min.js'), 'utf8');
  const script = await source;
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(script);
  const results = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(context: unknown, options: unknown): Promise<{ violations: { id: string; impact: string | null; help: string; nodes: { target: string[] }[] }[] }> } }).axe;
    return axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] }, resultTypes: ['violations'] });
  });
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ id: v.id, impact: v.impact!, help: v.help, targets: v.nodes.slice(0, 5).map((n) => n.target.join(' ')) }));
}
