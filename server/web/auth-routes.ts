import type { FastifyInstance, FastifyReply } from 'fastify';
import { DomainError, notFound } from '../domain/errors.ts';
import type { Web } from './context.ts';
import { signInForm, signUpForm } from './views/auth.ts';

type Form = Record<string, string | undefined>;

/**
 * Only a path on this site: `//evil.example` and `/\evil.example` are other sites to a browser,
 * which also drops tabs and newlines (`/\t/evil.example`). Paths this server sends people back to
 * are raw request URLs: printable ASCII without backslashes.
 */
function safeNext(next: unknown): string {
  return typeof next === 'string' && /^\/(?!\/)[\x21-\x5b\x5d-\x7e]*$/.test(next) ? next : '/';
}

/** Sign in, sign out and (with MLGIT_SIGNUP=open) sign up. */
export function registerAuthRoutes(app: FastifyInstance, web: Web): void {
  const { accounts, audit, limiter, config } = web.deps;
  const signupOpen = () => config.signup === 'open';

  app.get<{ Querystring: { next?: string } }>('/login', async (request, reply) => {
    const next = safeNext(request.query.next);
    if (await web.principal(request)) return reply.redirect(next, 303);
    return web.page(request, reply, 'Sign in', signInForm({ csrf: await web.csrf(request, reply), next, signupOpen: signupOpen() }));
  });

  app.post<{ Body: Form }>('/login', async (request, reply) => {
    const username = request.body.username ?? '';
    const next = safeNext(request.body.next);
    const again = async (status: number, error: string) =>
      web.page(request, reply, 'Sign in', signInForm({ csrf: await web.csrf(request, reply), next, username, error, signupOpen: signupOpen() }), { status });
    // The same limiter as the API and git's Basic auth: guesses through the form count with theirs.
    const retryAfter = await limiter.retryAfter(username, request.ip);
    if (retryAfter > 0) {
      reply.header('Retry-After', String(retryAfter));
      return again(429, `Too many failed sign-in attempts; try again in ${retryAfter} seconds.`);
    }
    let login: Awaited<ReturnType<typeof accounts.login>>;
    try {
      login = await accounts.login(username, request.body.password ?? '');
    } catch (err) {
      // A suspended account: the password was right, so it is not a failed guess.
      if (err instanceof DomainError && err.code === 'forbidden') return again(403, err.message);
      throw err;
    }
    if (!login) {
      await limiter.recordFailure(username, request.ip);
      await audit.record({ action: 'login.failed', actor: null, actorName: username, address: request.ip });
      return again(401, 'Wrong username or password.');
    }
    await audit.record({ action: 'login', actor: login.user, address: request.ip });
    return signedIn(reply, login.user.id, login.credentialVersion, next);
  });

  app.post('/logout', async (request, reply) => {
    const principal = await web.principal(request);
    if (principal) {
      // Moves the credential version on: this session and every other login of the user end.
      await accounts.logout(principal);
      await audit.record({ action: 'logout', actor: principal.user, target: principal.user.username, address: request.ip });
    }
    return reply.header('Set-Cookie', web.sessions.clearCookie()).redirect('/', 303);
  });

  app.get('/signup', async (request, reply) => {
    if (!signupOpen()) throw notFound('sign-up (an admin creates accounts on this server)');
    return web.page(request, reply, 'Sign up', signUpForm({ csrf: await web.csrf(request, reply) }));
  });

  app.post<{ Body: Form }>('/signup', async (request, reply) => {
    if (!signupOpen()) throw notFound('sign-up (an admin creates accounts on this server)');
    const { username = '', email, password = '' } = request.body;
    try {
      const user = await accounts.createUser({ username, password, email: email || undefined });
      const login = await accounts.login(user.username, password);
      if (!login) throw new Error('a new account could not sign in');
      await audit.record({ action: 'login', actor: login.user, address: request.ip });
      return signedIn(reply, login.user.id, login.credentialVersion, `/${user.username}`);
    } catch (err) {
      if (!(err instanceof DomainError) || (err.code !== 'invalid' && err.code !== 'conflict')) throw err;
      return web.page(request, reply, 'Sign up', signUpForm({ csrf: await web.csrf(request, reply), username, email, error: err.message }), { status: err.code === 'conflict' ? 409 : 422 });
    }
  });

  /** A new session (a new nonce: a CSRF token seen before sign-in is worthless after it). */
  function signedIn(reply: FastifyReply, userId: number, version: number, next: string) {
    return reply.header('Set-Cookie', web.sessions.setCookie(web.sessions.create(userId, version))).redirect(next, 303);
  }
}
