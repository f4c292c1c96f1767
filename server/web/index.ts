import type { FastifyInstance } from 'fastify';
import { Assets } from './assets.ts';
import { registerAuthRoutes } from './auth-routes.ts';
import { Web, type WebDeps } from './context.ts';
import { registerExploreRoutes } from './explore-routes.ts';
import { registerFileRoutes } from './file-routes.ts';
import { registerMetricsRoutes } from './metrics-routes.ts';
import { registerCompareRoutes } from './compare-routes.ts';
import { registerBadgeRoutes } from './badge-routes.ts';
import { registerCommitRoutes } from './commit-routes.ts';
import { registerRunPageRoutes } from './run-routes.ts';
import { registerHookSettingsRoutes } from './hook-settings-routes.ts';
import { registerRepoSettingsRoutes } from './repo-settings-routes.ts';
import { registerUserSettingsRoutes } from './user-settings-routes.ts';
import { CachedGitReads } from './git-reads.ts';
import { Renderer } from './render/renderer.ts';
import { registerRepoRoutes } from './repo-routes.ts';
import { addSecurityHeaders } from './security-headers.ts';
import { SessionCookies } from './session.ts';
import { registerWebErrors, requireCsrf } from './web-errors.ts';

const SESSION_DAYS = 14;
const FORM_BYTES = 64 * 1024;

/**
 * The web UI: server-rendered pages in their own Fastify context, so their HTML error pages,
 * security headers, form parser and CSRF check apply to them and to nothing of the API or git.
 */
export async function registerWeb(app: FastifyInstance, deps: WebDeps, secret: string): Promise<void> {
  const secure = deps.config.publicUrl?.startsWith('https:') ?? false;
  const web = new Web(deps, new SessionCookies(secret, SESSION_DAYS * 86_400, secure), new Assets());
  const renderer = new Renderer();
  const gitReads = new CachedGitReads(deps.git);
  await app.register(async (scope) => {
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: FORM_BYTES }, (_request, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });
    addSecurityHeaders(scope);
    scope.addHook('onResponse', async (_request, reply) => {
      if (String(reply.getHeader('content-type')).startsWith('text/html')) renderer.warmUpOnce();
    });
    registerWebErrors(scope, web);
    requireCsrf(scope, web);
    web.assets.register(scope);
    registerAuthRoutes(scope, web);
    registerExploreRoutes(scope, web);
    registerRepoRoutes(scope, web, renderer);
    registerFileRoutes(scope, web, renderer, gitReads);
    registerMetricsRoutes(scope, web);
    registerCompareRoutes(scope, web);
    registerBadgeRoutes(scope, web);
    registerCommitRoutes(scope, web, gitReads);
    registerRunPageRoutes(scope, web, gitReads);
    registerRepoSettingsRoutes(scope, web, gitReads);
    registerHookSettingsRoutes(scope, web);
    registerUserSettingsRoutes(scope, web);
  });
}
