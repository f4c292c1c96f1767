import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, notFound } from '../domain/errors.ts';
import type { Principal } from '../domain/model.ts';
import type { Web } from './context.ts';
import { type Form, formRefusal, keptValues, noticeOf, signedIn, ticked } from './settings-pages.ts';
import { passwordPage, tokensPage, type TokensView } from './views/user-settings.ts';

type SettingsRequest = FastifyRequest<{ Body: Form; Querystring: { done?: string } }>;

const NOTICES = { revoked: 'Token revoked: it no longer works anywhere.', password: 'Password changed. Every other session and login JWT has ended; your tokens still work.' };

/**
 * The signed-in user's settings: API tokens (created through AccountService as
 * POST /api/v1/user/tokens, the secret shown once on the answer to the form and never again;
 * listed; revoked) and the password change (AccountService.changePassword, which needs the current
 * password and ends every other session). Audit records as the API writes them.
 */
export function registerUserSettingsRoutes(app: FastifyInstance, web: Web): void {
  const { accounts, audit, limiter } = web.deps;

  async function tokens(request: SettingsRequest, reply: FastifyReply, principal: Principal, extra: Partial<TokensView> & { status?: number } = {}) {
    const view: TokensView = {
      csrf: await web.csrf(request, reply),
      tokens: await accounts.listTokens(principal),
      created: extra.created ?? null,
      notice: extra.notice ?? null,
      error: extra.error ?? null,
    };
    return web.page(request, reply, 'Access tokens', tokensPage(view), { status: extra.status, noStore: view.created !== null });
  }

  app.get('/settings', async (request, reply) => {
    await signedIn(web, request);
    return reply.redirect('/settings/tokens', 303);
  });

  app.get('/settings/tokens', async (request: SettingsRequest, reply) => tokens(request, reply, await signedIn(web, request), { notice: noticeOf(NOTICES, request.query.done) }));

  app.post('/settings/tokens', async (request: SettingsRequest, reply) => {
    const principal = await signedIn(web, request);
    let created: Awaited<ReturnType<typeof accounts.createToken>>;
    try {
      created = await accounts.createToken(principal, request.body.name ?? '', ticked(request.body, 'scope'));
    } catch (err) {
      const refusal = formRefusal(err);
      if (!refusal) throw err;
      return tokens(request, reply, principal, { error: { message: refusal.message, values: keptValues(request.body) }, status: refusal.status });
    }
    await audit.record({ action: 'token.create', actor: principal.user, target: principal.user.username, details: { token_id: created.id, name: created.name, scopes: created.scopes }, address: request.ip });
    // The answer to the form itself shows the secret (no redirect: nothing keeps it for a second request).
    return tokens(request, reply, principal, { created: { name: created.name, token: created.token }, status: 201 });
  });

  app.post<{ Params: { id: string } }>('/settings/tokens/:id/revoke', async (request, reply) => {
    const principal = await signedIn(web, request);
    const id = Number(request.params.id);
    if (!/^[1-9][0-9]{0,15}$/.test(request.params.id) || !Number.isSafeInteger(id)) throw notFound('token');
    await accounts.revokeToken(principal, id);
    await audit.record({ action: 'token.revoke', actor: principal.user, target: principal.user.username, details: { token_id: id }, address: request.ip });
    return reply.redirect('/settings/tokens?done=revoked', 303);
  });

  const password = async (request: SettingsRequest, reply: FastifyReply, extra: { notice?: string | null; error?: string; status?: number } = {}) =>
    web.page(request, reply, 'Password', passwordPage({ csrf: await web.csrf(request, reply), notice: extra.notice ?? null, error: extra.error ?? null }), { status: extra.status });

  app.get('/settings/password', async (request: SettingsRequest, reply) => {
    await signedIn(web, request);
    return password(request, reply, { notice: noticeOf(NOTICES, request.query.done) });
  });

  app.post('/settings/password', async (request: SettingsRequest, reply) => {
    const principal = await signedIn(web, request);
    const { username } = principal.user;
    // A wrong current password is a password guess (a session left open on a shared machine): the sign-in limiter counts it.
    const retryAfter = await limiter.retryAfter(username, request.ip);
    if (retryAfter > 0) {
      reply.header('Retry-After', String(retryAfter));
      return password(request, reply, { error: `Too many wrong passwords; try again in ${retryAfter} seconds.`, status: 429 });
    }
    const newPassword = request.body.new_password ?? '';
    try {
      await accounts.changePassword(principal, request.body.current_password ?? '', newPassword);
    } catch (err) {
      if (err instanceof DomainError && err.code === 'forbidden') {
        await limiter.recordFailure(username, request.ip);
        return password(request, reply, { error: 'The current password is not right.', status: 403 });
      }
      const refusal = formRefusal(err);
      if (!refusal) throw err;
      return password(request, reply, { error: refusal.message, status: refusal.status });
    }
    await audit.record({ action: 'password.change', actor: principal.user, target: username, address: request.ip });
    // The change moved the credential version on (every session ended, this one too): this browser signs in again with the new password.
    const login = await accounts.login(username, newPassword);
    if (login) reply.header('Set-Cookie', web.sessions.setCookie(web.sessions.create(login.user.id, login.credentialVersion)));
    return reply.redirect(login ? '/settings/password?done=password' : '/login', 303);
  });
}
