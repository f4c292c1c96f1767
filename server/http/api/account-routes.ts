import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config.ts';
import { isSiteAdmin } from '../../domain/access.ts';
import type { AccountService } from '../../domain/accounts.ts';
import type { AuditLog } from '../../domain/audit.ts';
import { forbidden, invalid, unauthenticated } from '../../domain/errors.ts';
import type { AuthFailureLimiter } from '../auth-failures.ts';
import { type Authenticate, requirePrincipal } from '../authenticate.ts';
import { presentUser } from './present.ts';

// Types only: lengths and formats are checked by the domain, so every bad value is one 422 "invalid"
// (a schema maxLength would turn a too-long name into a 400 of a different shape).
const credentials = {
  type: 'object',
  required: ['username', 'password'],
  properties: { username: { type: 'string' }, password: { type: 'string' }, email: { type: 'string' } },
} as const;

export function registerAccountRoutes(
  app: FastifyInstance,
  deps: { config: Config; accounts: AccountService; authenticate: Authenticate; limiter: AuthFailureLimiter; audit: AuditLog },
): void {
  const { accounts, authenticate } = deps;

  app.post<{ Body: { username: string; password: string; email?: string; is_admin?: boolean } }>(
    '/api/v1/users',
    { schema: { body: { ...credentials, properties: { ...credentials.properties, is_admin: { type: 'boolean' } } } } },
    async (request, reply) => {
      const principal = await authenticate(request);
      const admin = isSiteAdmin(principal);
      if (deps.config.signup !== 'open' && !admin) throw principal ? forbidden('only admins can create users') : unauthenticated('sign-up is closed; an admin must create your account');
      if (request.body.is_admin && !admin) throw forbidden('only admins can create admin users');
      const user = await accounts.createUser({ ...request.body, isAdmin: admin && request.body.is_admin === true });
      return reply.code(201).send({ id: user.id, username: user.username });
    },
  );

  app.get('/api/v1/user', async (request) => presentUser((await requirePrincipal(authenticate, request)).user));

  app.post<{ Body: { username: string; password: string } }>('/api/v1/auth/login', { schema: { body: credentials } }, async (request, reply) => {
    const retryAfter = deps.limiter.retryAfter(request.ip);
    if (retryAfter > 0) return reply.code(429).header('Retry-After', String(retryAfter)).send({ error: { code: 'rate_limited', message: 'too many failed sign-in attempts; try again later' } });
    const user = await accounts.checkPassword(request.body.username, request.body.password);
    if (!user) {
      deps.limiter.recordFailure(request.ip);
      await deps.audit.record({ action: 'login.failed', actor: null, actorName: request.body.username, address: request.ip });
      throw unauthenticated('wrong username or password');
    }
    await deps.audit.record({ action: 'login', actor: user, address: request.ip });
    const token = app.jwt.sign({ sub: String(user.id), name: user.username }, { expiresIn: deps.config.jwtTtlSeconds });
    return { token, expires_in: deps.config.jwtTtlSeconds };
  });

  app.post<{ Body: { name: string; scopes: string[] } }>(
    '/api/v1/user/tokens',
    { schema: { body: { type: 'object', required: ['name', 'scopes'], properties: { name: { type: 'string' }, scopes: { type: 'array', items: { type: 'string' } } } } } },
    async (request, reply) => {
      const principal = await requirePrincipal(authenticate, request);
      const created = await accounts.createToken(principal, request.body.name, request.body.scopes);
      await deps.audit.record({ action: 'token.create', actor: principal.user, target: principal.user.username, details: { token_id: created.id, name: created.name, scopes: created.scopes }, address: request.ip });
      return reply.code(201).send({ id: created.id, name: created.name, scopes: created.scopes, token: created.token, created_at: created.createdAt.toISOString() });
    },
  );

  app.get('/api/v1/user/tokens', async (request) => {
    const principal = await requirePrincipal(authenticate, request);
    return (await accounts.listTokens(principal.user.id)).map((t) => ({
      id: t.id,
      name: t.name,
      scopes: t.scopes,
      created_at: t.createdAt.toISOString(),
      last_used_at: t.lastUsedAt?.toISOString() ?? null,
    }));
  });

  app.delete<{ Params: { id: string } }>('/api/v1/user/tokens/:id', async (request, reply) => {
    const principal = await requirePrincipal(authenticate, request);
    const id = Number(request.params.id);
    if (!Number.isSafeInteger(id) || id <= 0) throw invalid('token id must be a positive integer');
    await accounts.revokeToken(principal.user.id, id);
    await deps.audit.record({ action: 'token.revoke', actor: principal.user, target: principal.user.username, details: { token_id: id }, address: request.ip });
    return reply.code(204).send();
  });
}
