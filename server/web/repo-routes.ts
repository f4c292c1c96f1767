import type { FastifyInstance } from 'fastify';
import { DomainError, unauthenticated } from '../domain/errors.ts';
import type { Web } from './context.ts';
import { splitFrontMatter } from './render/front-matter.ts';
import type { Renderer } from './render/renderer.ts';
import { readFile } from './repo-content.ts';
import { cloneUrl, headerFor, readableRepo, type RepoParams } from './repo-pages.ts';
import { newRepoPage } from './views/new-repo.ts';
import { contentPath, repoPath } from './views/parts.ts';
import { repoHomePage } from './views/repo-home.ts';

type Form = Record<string, string | undefined>;

/** The model home (card + side panel), the new-repository form, and forking. */
export function registerRepoRoutes(app: FastifyInstance, web: Web, renderer: Renderer): void {
  const { repos, git, runs, audit, webhooks } = web.deps;

  app.get('/new', async (request, reply) => {
    const principal = await web.principal(request);
    if (!principal) throw unauthenticated();
    return web.page(request, reply, 'New repository', newRepoPage({ csrf: await web.csrf(request, reply), owner: principal.user.username }));
  });

  app.post<{ Body: Form }>('/new', async (request, reply) => {
    const principal = await web.principal(request);
    if (!principal) throw unauthenticated();
    const { name, description, kind, visibility } = request.body;
    try {
      const repo = await repos.create(principal, { name, description: description ?? '', kind, private: visibility === 'private' });
      // What POST /api/v1/repos records and announces, so a repo made here is the same event.
      await audit.record({ action: 'repo.create', actor: principal.user, target: `${repo.owner}/${repo.name}`, details: { private: repo.private }, address: request.ip });
      await webhooks.emit(repo.id, 'repo.created', { action: 'created' }, principal.user.id);
      return reply.redirect(repoPath(repo), 303);
    } catch (err) {
      if (!(err instanceof DomainError) || (err.code !== 'invalid' && err.code !== 'conflict')) throw err;
      const form = newRepoPage({ csrf: await web.csrf(request, reply), owner: principal.user.username, values: request.body, error: err.message });
      return web.page(request, reply, 'New repository', form, { status: err.code === 'conflict' ? 409 : 422 });
    }
  });

  app.get<{ Params: RepoParams }>('/:owner/:repo', async (request, reply) => {
    const repo = await readableRepo(web, request);
    if (!repo) return reply.callNotFound();
    if (request.params.repo !== repo.name) return reply.redirect(repoPath(repo), 301);
    const commit = await git.resolveCommit(repo.id, repo.defaultBranch);
    const readme = commit ? await readFile(git, repo.id, commit, 'README.md') : null;
    const split = readme?.kind === 'text' ? splitFrontMatter(readme.text) : null;
    const card = readme?.kind === 'text' && split ? renderer.markdown(readme.sha, split.body, contentPath(repo, 'blob', repo.defaultBranch, '') + '/') : null;
    const latestRun = (await runs.list(repo, { ref: repo.defaultBranch }, 1, 0)).runs[0] ?? null;
    const page = repoHomePage({
      header: await headerFor(web, request, reply, repo, 'card'),
      card,
      meta: split?.meta ?? null,
      metaError: split?.error ?? null,
      empty: commit === null,
      latestRun,
      cloneUrl: cloneUrl(web, request, repo),
    });
    return web.page(request, reply, `${repo.owner}/${repo.name}`, page);
  });

  app.post<{ Params: RepoParams; Body: Form }>('/:owner/:repo/fork', async (request, reply) => {
    const principal = await web.principal(request);
    if (!principal) throw unauthenticated();
    const fork = await repos.fork(principal, request.params.owner, request.params.repo, {});
    // As POST /api/v1/repos/:owner/:name/forks records it.
    await audit.record({ action: 'repo.create', actor: principal.user, target: `${fork.owner}/${fork.name}`, details: { private: fork.private, fork_of: `${request.params.owner}/${request.params.repo}` }, address: request.ip });
    return reply.redirect(repoPath(fork), 303);
  });
}
