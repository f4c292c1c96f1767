import type { FastifyInstance } from 'fastify';
import { parse as parseYaml } from 'yaml';
import { notFound } from '../domain/errors.ts';
import type { Web } from './context.ts';
import { diffLines, splitLines, type DiffLine } from './line-diff.ts';
import { commitOf, readFile, type FileContent } from './repo-content.ts';
import { headerFor, readableRepo, type RepoParams } from './repo-pages.ts';
import { comparePage, comparePickerPage, compareUrl, type FileDiff } from './views/compare.ts';

/** Files whose change the compare page shows, and how big they may be to be diffed. */
const DIFFED = ['mlproject.yaml', 'params.yaml'];
const MAX_DIFF_BYTES = 256 * 1024;
const MAX_DIFF_LINES = 5000;
const MAX_PARAMS = 500;

type Picker = { base?: string; head?: string };

/** Two commits side by side: params, metrics with regression marks, and the manifest's diff. */
export function registerCompareRoutes(app: FastifyInstance, web: Web): void {
  const { git, runs } = web.deps;

  // The picker: a plain GET form; with both refs it goes to the comparison's own URL.
  app.get<{ Params: RepoParams; Querystring: Picker }>('/:owner/:repo/compare', async (request, reply) => {
    const repo = await readableRepo(web, request);
    if (!repo) return reply.callNotFound();
    const base = request.query.base?.trim() ?? '';
    const head = request.query.head?.trim() ?? '';
    if (base && head) return reply.redirect(compareUrl(repo, base, head), 303);
    const page = comparePickerPage({ header: await headerFor(web, request, reply, repo, 'compare'), base: base || repo.defaultBranch, head });
    return web.page(request, reply, `Compare · ${repo.owner}/${repo.name}`, page);
  });

  app.get<{ Params: RepoParams & { '*': string } }>('/:owner/:repo/compare/*', async (request, reply) => {
    const repo = await readableRepo(web, request);
    if (!repo) return reply.callNotFound();
    const spec = request.params['*'] ?? '';
    const split = spec.indexOf('...');
    if (split <= 0 || split + 3 >= spec.length) throw notFound('comparison (the URL is /compare/<base>...<head>)');
    const baseRef = spec.slice(0, split);
    const headRef = spec.slice(split + 3);
    const [base, head] = await Promise.all([commitOf(git, repo, baseRef), commitOf(git, repo, headRef)]);
    const [result, files] = await Promise.all([
      runs.compare(repo, base, head),
      Promise.all(DIFFED.map(async (path) => ({ path, before: await readFile(git, repo.id, base, path), after: await readFile(git, repo.id, head, path) }))),
    ]);
    const text = (f: { before: FileContent | null; after: FileContent | null }, side: 'before' | 'after') => {
      const file = f[side];
      return file?.kind === 'text' ? file.text : '';
    };
    const params = {
      base: effectiveParams(text(files[0]!, 'before'), text(files[1]!, 'before')),
      head: effectiveParams(text(files[0]!, 'after'), text(files[1]!, 'after')),
    };
    const diffs: FileDiff[] = files.map((f) => ({ path: f.path, ...fileDiff(f.before, f.after) }));
    const page = comparePage({ header: await headerFor(web, request, reply, repo, 'compare'), baseRef, headRef, base, head, jobs: result.jobs, params, diffs });
    return web.page(request, reply, `Compare ${baseRef}...${headRef} · ${repo.owner}/${repo.name}`, page);
  });
}

function fileDiff(before: FileContent | null, after: FileContent | null): { lines: DiffLine[] | null; note: string | null } {
  if (!before && !after) return { lines: null, note: 'in neither commit' };
  for (const f of [before, after]) {
    if (f && (f.kind !== 'text' || f.size > MAX_DIFF_BYTES)) return { lines: null, note: 'too large or not text: not diffed' };
  }
  const a = before?.kind === 'text' ? splitLines(before.text) : [];
  const b = after?.kind === 'text' ? splitLines(after.text) : [];
  if (a.length > MAX_DIFF_LINES || b.length > MAX_DIFF_LINES) return { lines: null, note: `more than ${MAX_DIFF_LINES} lines: not diffed` };
  const lines = diffLines(a, b);
  const note = !before ? 'added' : !after ? 'removed' : lines.every((l) => l.op === 'same') ? 'unchanged' : null;
  return { lines, note };
}

function parseObject(text: string): Record<string, unknown> {
  if (!text) return {};
  try {
    const value: unknown = parseYaml(text, { maxAliasCount: 10 });
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** The params a run would get: the manifest's schema defaults, then params.yaml's values (flattened, as text). */
export function effectiveParams(manifestText: string, paramsText: string): Map<string, string> {
  const out = new Map<string, string>();
  const schema = (parseObject(manifestText).params as { schema?: unknown } | undefined)?.schema;
  if (schema && typeof schema === 'object') {
    for (const [name, def] of Object.entries(schema as Record<string, unknown>)) {
      if (def && typeof def === 'object' && 'default' in def) out.set(name, show((def as { default: unknown }).default));
    }
  }
  const flatten = (prefix: string, value: unknown) => {
    if (out.size >= MAX_PARAMS) return;
    if (value && typeof value === 'object' && !Array.isArray(value)) for (const [k, v] of Object.entries(value)) flatten(prefix ? `${prefix}.${k}` : k, v);
    else out.set(prefix, show(value));
  };
  flatten('', parseObject(paramsText));
  return out;
}

function show(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value) ?? 'null';
}
