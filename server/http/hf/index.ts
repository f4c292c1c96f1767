// The Hugging Face Hub HTTP API for mlgit's repositories, so `HF_ENDPOINT` (Python) or `hubUrl`
// (JavaScript) pointed at mlgit is all the official clients need. A protocol adapter like lfs/:
// the Hub's routes and headers mapped onto repos, git, LFS and the push path.
import type { FastifyInstance } from 'fastify';
import type { DownloadCounter } from '../../domain/hf/downloads.ts';
import type { HubGit } from '../../domain/hf/ports.ts';
import { HubRepoInfo } from '../../domain/hf/repo-info.ts';
import { HubCommits } from '../../domain/hf/hub-commits.ts';
import type { PushOutbox } from '../../domain/push-outbox.ts';
import type { PushService } from '../../domain/pushes.ts';
import { GitTimeline } from '../git/git-timeline.ts';
import type { PushesInFlight } from '../git/pushes-in-flight.ts';
import type { AuditLog } from '../../domain/audit.ts';
import type { LfsService } from '../../domain/lfs.ts';
import type { GitBackend, ObjectStore } from '../../domain/ports.ts';
import type { RepoService } from '../../domain/repos.ts';
import type { WebhookService } from '../../domain/webhooks.ts';
import type { Authenticate } from '../authenticate.ts';
import { registerHubAccountRoutes } from './account-routes.ts';
import { registerHubErrorHandler } from './hub-errors.ts';
import { registerInfoRoutes } from './info-routes.ts';
import { registerLfsAliasRoutes } from './lfs-alias-routes.ts';
import { registerRefsRoutes } from './refs-routes.ts';
import { registerResolveRoutes } from './resolve-routes.ts';
import { registerTreeRoutes } from './tree-routes.ts';
import { registerUploadRoutes } from './upload-routes.ts';

export interface HubDeps {
  readonly repos: RepoService;
  readonly git: GitBackend;
  readonly hubGit: HubGit;
  readonly lfs: LfsService;
  readonly store: ObjectStore;
  readonly audit: AuditLog;
  readonly events: WebhookService;
  readonly pushes: PushService;
  readonly outbox: PushOutbox;
  readonly pushesInFlight: PushesInFlight;
  readonly authenticate: Authenticate;
  readonly publicUrl: string | null;
  /** Created by app.ts, which writes the last counts before it closes the database. */
  readonly downloads: DownloadCounter;
}

const FORM_BYTES = 1024 * 1024;

/**
 * Requests that do not ask for HTML: the web UI keeps `/:owner/:repo/resolve|raw/...` for
 * browsers, and HF clients (which never send `Accept: text/html`) reach the Hub's routes.
 */
type Strategy = Parameters<FastifyInstance['addConstraintStrategy']>[0];
type RouteHandler = NonNullable<ReturnType<ReturnType<Strategy['storage']>['get']>>;
const hubClientStrategy: Strategy = {
  name: 'hubClient',
  storage() {
    const handlers = new Map<unknown, RouteHandler>();
    return { get: (value) => handlers.get(value) ?? null, set: (value, handler) => void handlers.set(value, handler) };
  },
  deriveConstraint: (request) => !/\btext\/html\b/i.test(String(request.headers.accept ?? '')),
  mustMatchWhenDerived: false,
};

export async function registerHubRoutes(app: FastifyInstance, deps: HubDeps): Promise<void> {
  app.addConstraintStrategy(hubClientStrategy);
  app.addHook('onClose', async () => deps.hubGit.close());
  const info = new HubRepoInfo(deps.hubGit);
  const commits = new HubCommits({
    git: deps.git,
    hubGit: deps.hubGit,
    preReceive: (repo, pusherId, updates, quarantine) => deps.pushes.preReceive(repo, pusherId, updates, quarantine),
    outbox: deps.outbox,
    lfsPresent: (repoId, oids) => deps.lfs.present(repoId, oids),
    // In flight like a push whose receive-pack runs: the outbox reconciler leaves its row alone.
    sessions: { open: (secret) => deps.pushesInFlight.open(secret, { timeline: new GitTimeline(), baseUrl: '' }), close: (secret) => deps.pushesInFlight.close(secret) },
  });
  await app.register(async (hub) => {
    registerHubErrorHandler(hub);
    // huggingface_hub sends some bodies as forms (paths-info: `data={"paths": [...]}`).
    hub.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: FORM_BYTES }, (_request, body, done) => {
      const form: Record<string, string | string[]> = {};
      for (const [key, value] of new URLSearchParams(body as string)) {
        const held = form[key];
        form[key] = held === undefined ? value : [held, value].flat();
      }
      done(null, form);
    });
    registerResolveRoutes(hub, deps);
    registerInfoRoutes(hub, { ...deps, info });
    registerTreeRoutes(hub, deps);
    registerRefsRoutes(hub, deps);
    registerHubAccountRoutes(hub, deps);
    registerUploadRoutes(hub, { ...deps, commits });
    await registerLfsAliasRoutes(hub);
  });
}
