import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Principal, Repo } from '../domain/model.ts';
import type { Web } from './context.ts';
import type { CachedGitReads } from './git-reads.ts';
import { headerFor, type RepoParams } from './repo-pages.ts';
import { adminRepo, type Form, formRefusal, keptValues, noticeOf, ticked } from './settings-pages.ts';
import { repoPath } from './views/parts.ts';
import { repoSettingsPage, type RepoSettingsView, type SettingsSection } from './views/repo-settings.ts';

type SettingsRequest = FastifyRequest<{ Params: RepoParams; Body: Form; Querystring: { done?: string } }>;

const NOTICES = {
  saved: 'Settings saved.',
  collaborator: 'Collaborator saved.',
  removed: 'Collaborator removed.',
  'hook-deleted': 'Webhook deleted.',
};
/** The settings page lists this many hooks; the domain allows 50 per repository. */
const HOOKS_SHOWN = 50;

/**
 * Repository settings for its admins: description, visibility, default and protected branches
 * (RepoService.update, as PATCH /api/v1/repos/:owner/:name), collaborators and webhooks (the
 * services behind the API's routes, with the same audit records).
 */
export function registerRepoSettingsRoutes(app: FastifyInstance, web: Web, gitReads: CachedGitReads): void {
  const { repos, webhooks, audit } = web.deps;

  async function show(request: SettingsRequest, reply: FastifyReply, repo: Repo, principal: Principal, extra: { notice?: string | null; error?: RepoSettingsView['error']; status?: number } = {}) {
    const [refs, collaborators, { hooks }] = await Promise.all([
      gitReads.refNames(repo),
      repos.collaborators(principal, repo.owner, repo.name),
      webhooks.list(principal, repo.owner, repo.name, { page: 1, perPage: HOOKS_SHOWN }),
    ]);
    const view: RepoSettingsView = {
      header: await headerFor(web, request, reply, repo, 'settings', 'admin'),
      csrf: await web.csrf(request, reply),
      branches: refs.branches,
      collaborators,
      hooks,
      notice: extra.notice ?? null,
      error: extra.error ?? null,
    };
    return web.page(request, reply, `Settings · ${repo.owner}/${repo.name}`, repoSettingsPage(view), { status: extra.status });
  }

  /** Runs a form's action; a refusal the form can show re-renders the page with it and what was typed. */
  async function submit(request: SettingsRequest, reply: FastifyReply, section: SettingsSection, action: (repo: Repo, principal: Principal) => Promise<string>, secret: string[] = []) {
    const found = await adminRepo(web, request);
    if (!found) return reply.callNotFound();
    try {
      return reply.redirect(await action(found.repo, found.principal), 303);
    } catch (err) {
      const refusal = formRefusal(err);
      if (!refusal) throw err;
      return show(request, reply, found.repo, found.principal, { error: { section, message: refusal.message, values: keptValues(request.body, secret) }, status: refusal.status });
    }
  }

  const settingsUrl = (repo: Repo, done: keyof typeof NOTICES, anchor = '') => `${repoPath(repo, 'settings')}?done=${done}${anchor}`;

  app.get('/:owner/:repo/settings', async (request: SettingsRequest, reply) => {
    const found = await adminRepo(web, request);
    if (!found) return reply.callNotFound();
    return show(request, reply, found.repo, found.principal, { notice: noticeOf(NOTICES, request.query.done) });
  });

  app.post('/:owner/:repo/settings', (request: SettingsRequest, reply) =>
    submit(request, reply, 'general', async (repo, principal) => {
      const body = request.body;
      const patch = {
        description: body.description ?? '',
        private: body.visibility === 'private',
        protected_branches: (body.protected_branches ?? '')
          .split(/\r?\n/)
          .map((line) => line.trim())
          .filter(Boolean),
        // Only a change moves HEAD of the bare repository.
        default_branch: body.default_branch && body.default_branch !== repo.defaultBranch ? body.default_branch : undefined,
      };
      const updated = await repos.update(principal, repo.owner, repo.name, patch);
      if (updated.private !== repo.private) {
        await audit.record({ action: 'repo.visibility', actor: principal.user, target: `${updated.owner}/${updated.name}`, details: { private: updated.private }, address: request.ip });
      }
      return settingsUrl(updated, 'saved');
    }),
  );

  app.post('/:owner/:repo/settings/collaborators', (request: SettingsRequest, reply) =>
    submit(request, reply, 'collaborators', async (repo, principal) => {
      const username = (request.body.username ?? '').trim();
      const role = request.body.role;
      await repos.setCollaborator(principal, repo.owner, repo.name, username, role);
      await audit.record({ action: 'collaborator.set', actor: principal.user, target: `${repo.owner}/${repo.name}`, details: { username, role }, address: request.ip });
      return settingsUrl(repo, 'collaborator', '#collaborators');
    }),
  );

  app.post('/:owner/:repo/settings/collaborators/remove', (request: SettingsRequest, reply) =>
    submit(request, reply, 'collaborators', async (repo, principal) => {
      const username = request.body.username ?? '';
      const forks = await repos.removeCollaborator(principal, repo.owner, repo.name, username);
      await audit.record({ action: 'collaborator.remove', actor: principal.user, target: `${repo.owner}/${repo.name}`, details: { username }, address: request.ip });
      // Forks of a private repo that went with the collaborator's access: each is a deletion in the log, as through the API.
      for (const fork of forks) {
        const reason = `${username} lost read access to ${repo.owner}/${repo.name}`;
        await audit.record({ action: 'repo.delete', actor: principal.user, target: `${fork.owner}/${fork.name}`, details: { repo_id: fork.id, reason }, address: request.ip });
      }
      return settingsUrl(repo, 'removed', '#collaborators');
    }),
  );

  app.post('/:owner/:repo/settings/hooks', (request: SettingsRequest, reply) =>
    submit(
      request,
      reply,
      'hooks',
      async (repo, principal) => {
        const body = request.body;
        const input = { url: body.url ?? '', secret: body.secret || null, events: ticked(body, 'event'), active: body.active === 'on' };
        const hook = await webhooks.create(principal, repo.owner, repo.name, input);
        await audit.record({ action: 'hook.create', actor: principal.user, target: `${repo.owner}/${repo.name}`, details: { hook_id: hook.id, url: hook.url, events: hook.events }, address: request.ip });
        return `${repoPath(repo, 'settings', 'hooks', String(hook.id))}?done=created`;
      },
      ['secret'],
    ),
  );
}
