import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config.ts';
import type { AccountService } from '../domain/accounts.ts';
import type { AuditLog } from '../domain/audit.ts';
import type { LfsService } from '../domain/lfs.ts';
import type { Principal } from '../domain/model.ts';
import type { GitBackend, ObjectStore, RunLogStore } from '../domain/ports.ts';
import type { RepoService } from '../domain/repos.ts';
import type { RunDispatcher } from '../domain/runs/dispatcher.ts';
import type { RunLifecycle } from '../domain/runs/lifecycle.ts';
import type { RunQueries } from '../domain/runs/queries.ts';
import type { WebhookService } from '../domain/webhooks.ts';
import type { AuthFailureLimiter } from '../http/auth-failures.ts';
import type { Assets } from './assets.ts';
import type { Html } from './html.ts';
import type { Session, SessionCookies } from './session.ts';
import { layout } from './views/layout.ts';

/** The domain services the pages call: the same ones, with the same access rules, as the REST API. */
export interface WebDeps {
  readonly config: Config;
  readonly accounts: AccountService;
  readonly repos: RepoService;
  readonly git: GitBackend;
  readonly runs: RunQueries;
  /** The run pages' logs (the store the API's `?follow=1` reads), outputs, cancel and re-run: what the API's run routes use. */
  readonly runControl: {
    readonly logs: RunLogStore;
    readonly store: ObjectStore;
    readonly lifecycle: Pick<RunLifecycle, 'cancel'>;
    readonly dispatcher: Pick<RunDispatcher, 'dispatchManual'>;
  };
  readonly lfs: LfsService;
  readonly audit: AuditLog;
  readonly limiter: AuthFailureLimiter;
  /** Events (as the API's repo creation sends them) and the settings pages' hooks and delivery log: what the API's webhook routes use. */
  readonly webhooks: Pick<WebhookService, 'emit' | 'create' | 'list' | 'get' | 'update' | 'remove' | 'deliveries' | 'delivery' | 'redeliver'>;
}

export interface Viewer {
  readonly session: Session | null;
  /** Null when anonymous, or when the session's credential version is no longer the user's (signed out elsewhere). */
  readonly principal: Principal | null;
}

/** Per-request session and principal, and the page frame around every view. */
export class Web {
  private readonly viewers = new WeakMap<FastifyRequest, Promise<Viewer>>();

  constructor(
    readonly deps: WebDeps,
    readonly sessions: SessionCookies,
    readonly assets: Assets,
  ) {}

  viewer(request: FastifyRequest): Promise<Viewer> {
    let pending = this.viewers.get(request);
    if (!pending) {
      pending = this.resolve(request);
      this.viewers.set(request, pending);
    }
    return pending;
  }

  async principal(request: FastifyRequest): Promise<Principal | null> {
    return (await this.viewer(request)).principal;
  }

  private async resolve(request: FastifyRequest): Promise<Viewer> {
    const session = this.sessions.read(request.headers.cookie);
    if (session?.userId == null || session.version === null) return { session, principal: null };
    return { session, principal: await this.deps.accounts.principalForLogin(session.userId, session.version) };
  }

  /**
   * The CSRF token for a form on this page. An anonymous visitor without a session gets one here
   * (the sign-in form is protected too: no one can sign a victim into the attacker's account).
   */
  async csrf(request: FastifyRequest, reply: FastifyReply): Promise<string> {
    const { session } = await this.viewer(request);
    if (session) return this.sessions.csrfToken(session);
    const fresh = this.sessions.create(null, null);
    reply.header('Set-Cookie', this.sessions.setCookie(fresh));
    return this.sessions.csrfToken(fresh);
  }

  /**
   * Sends a whole page: the view in the frame, never cached by shared caches (pages depend on who
   * asks); `noStore` keeps a page that shows a secret out of every cache, the browser's too.
   */
  async page(request: FastifyRequest, reply: FastifyReply, title: string, content: Html, options: { status?: number; query?: string; noStore?: boolean } = {}): Promise<FastifyReply> {
    const { session, principal } = await this.viewer(request);
    const frame = {
      viewer: principal?.user ?? null,
      csrf: principal && session ? this.sessions.csrfToken(session) : null,
      signupOpen: this.deps.config.signup === 'open',
      assets: { css: this.assets.url('site.css'), js: this.assets.url('site.js') },
      query: options.query,
    };
    return reply
      .code(options.status ?? 200)
      .type('text/html; charset=utf-8')
      .header('Cache-Control', options.noStore ? 'no-store' : 'private, no-cache')
      .send(layout(frame, title, content).value);
  }
}
