import type { FastifyInstance } from 'fastify';
import { DomainError, notFound } from '../domain/errors.ts';
import type { Repo } from '../domain/model.ts';
import type { RunStatus } from '../domain/runs/model.ts';
import type { Web } from './context.ts';
import { readableRepo, type RepoParams } from './repo-pages.ts';
import { badgeSvg, type BadgeState } from './views/badge.ts';

/** An SVG is a document that could carry script: this one may load and run nothing. */
const BADGE_CSP = "default-src 'none'; frame-ancestors 'none'";

const STATES: Record<RunStatus, BadgeState> = {
  success: 'passing',
  cached: 'passing',
  failed: 'failing',
  error: 'failing',
  timed_out: 'failing',
  queued: 'running',
  running: 'running',
  cancelled: 'unknown',
};

/**
 * Status badges for READMEs elsewhere: the latest run of a job on a branch. Other sites fetch them
 * without the viewer's session (SameSite), so a private repository's badge is, to them, the same
 * 404 as a missing repository's, never a sign-in redirect.
 */
export function registerBadgeRoutes(app: FastifyInstance, web: Web): void {
  app.get<{ Params: RepoParams & { branch: string; job: string } }>('/:owner/:repo/badges/:branch/:job', async (request, reply) => {
    const { branch, job: file } = request.params;
    if (!file.endsWith('.svg') || file.length <= 4) throw notFound('badge (the URL ends in <job>.svg)');
    const job = file.slice(0, -4);
    let repo: Repo | null;
    try {
      repo = await readableRepo(web, request);
    } catch (err) {
      if (err instanceof DomainError && (err.code === 'unauthenticated' || err.code === 'forbidden')) throw notFound('repository');
      throw err;
    }
    if (!repo) return reply.callNotFound();
    const latest = (await web.deps.runs.list(repo, { ref: branch, job }, 1, 0)).runs[0];
    const state: BadgeState = latest ? STATES[latest.status] : 'unknown';
    return reply
      .type('image/svg+xml; charset=utf-8')
      .header('Content-Security-Policy', BADGE_CSP)
      .header('Cache-Control', `${repo.private ? 'private' : 'public'}, max-age=30, no-cache`)
      .send(badgeSvg(job, state).value);
  });
}
