import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config.ts';
import { isSiteAdmin } from '../../domain/access.ts';
import type { AccountService } from '../../domain/accounts.ts';
import type { AuditLog } from '../../domain/audit.ts';
import { forbidden, invalid, unauthenticated } from '../../domain/errors.ts';
import { SCOPES } from '../../domain/model.ts';
import type { AuthFailureLimiter } from '../auth-failures.ts';
import { type Authenticate, requirePrincipal } from '../authenticate.ts';
import { presentUser } from './present.ts';
import { errors, noContent, ref } from './schemas/common.ts';

// Types only: lengths and formats are checked by the domain, so every bad value is one 422 "invalid"
// (a schema maxLength would turn a too-long name into a 400 of a different shape).
const credentials = {
  type: 'object',
  required: ['username', 'password'],
  properties: { username: { type: 'string' }, password: { type: 'string' }, email: { type: 'string' } },
} as const;

const tokenProperties = {
  id: { type: 'integer' },
  name: { type: 'string' },
  scopes: { type: 'array', items: { type: 'string', enum: [...SCOPES] } },
  created_at: { type: 'string', format: 'date-time' },
} as const;
const tokenSchema = { type: 'object', properties: { ...tokenProperties, last_used_at: { type: ['string', 'null'], format: 'date-time' } } } as const;

export function registerAccountRoutes(
  app: FastifyInstance,
  deps: { config: Config; accounts: AccountService; authenticate: Authenticate; limiter: AuthFailureLimiter; audit: AuditLog },
): void {
  const { accounts, authenticate } = deps;

  app.post<{ Body: { username: string; password: string; email?: string; is_admin?: boolean } }>(
    '/api/v1/users',
    {
      schema: {
        summary: 'Create a user (open sign-up, or an admin)',
        body: { ...credentials, properties: { ...credentials.properties, is_admin: { type: 'boolean' } } },
        response: { 201: { type: 'object', properties: { id: { type: 'integer' }, username: { type: 'string' } } }, ...errors },
      },
    },
    async (request, reply) => {
      const principal = await authenticate(request);
      const admin = isSiteAdmin(principal);
      if (deps.config.signup !== 'open' && !admin) throw principal ? forbidden('only admins can create users') : unauthenticated('sign-up is closed; an admin must create your account');
      if (request.body.is_admin && !admin) throw forbidden('only admins can create admin users');
      const user = await accounts.createUser({ ...request.body, isAdmin: admin && request.body.is_admin === true });
      return reply.code(201).send({ id: user.id, username: user.username });
    },
  );

  app.get('/api/v1/user', { schema: { summary: 'The signed-in user', response: { 200: ref('User'), ...errors } } }, async (request) =>
    presentUser((await requirePrincipal(authenticate, request)).user),
  );

  app.post<{ Body: { username: string; password: string } }>(
    '/api/v1/auth/login',
    {
      schema: {
        summary: 'Exchange a username and password for a JWT',
        body: credentials,
        response: { 200: { type: 'object', properties: { token: { type: 'string' }, expires_in: { type: 'integer', description: 'seconds' } } }, ...errors },
      },
    },
    async (request, reply) => {
      const retryAfter = await deps.limiter.retryAfter(request.body.username, request.ip);
      if (retryAfter > 0) return reply.code(429).header('Retry-After', String(retryAfter)).send({ error: { code: 'rate_limited', message: 'too many failed sign-in attempts; try again later' } });
      const login = await accounts.login(request.body.username, request.body.password);
      if (!login) {
        await deps.limiter.recordFailure(request.body.username, request.ip);
        await deps.audit.record({ action: 'login.failed', actor: null, actorName: request.body.username, address: request.ip });
        throw unauthenticated('wrong username or password');
      }
      const { user, credentialVersion } = login;
      await deps.audit.record({ action: 'login', actor: user, address: request.ip });
      // `ver`: the JWT dies when the version moves on (password change, logout, suspension, deletion).
      const token = app.jwt.sign({ sub: String(user.id), name: user.username, ver: credentialVersion }, { expiresIn: deps.config.jwtTtlSeconds });
      return { token, expires_in: deps.config.jwtTtlSeconds };
    },
  );

  app.post('/api/v1/auth/logout', { schema: { summary: "End every login JWT of the caller (API tokens stay valid; revoke them one by one)", response: { 204: noContent, ...errors } } }, async (request, reply) => {
    const principal = await requirePrincipal(authenticate, request);
    await accounts.logout(principal);
    await deps.audit.record({ action: 'logout', actor: principal.user, target: principal.user.username, address: request.ip });
    return reply.code(204).send();
  });

  app.patch<{ Body: { current_password: string; new_password: string } }>(
    '/api/v1/user/password',
    {
      schema: {
        summary: 'Change your password (ends every login JWT; API tokens stay valid)',
        body: { type: 'object', required: ['current_password', 'new_password'], properties: { current_password: { type: 'string' }, new_password: { type: 'string' } } },
        response: { 204: noContent, ...errors },
      },
    },
    async (request, reply) => {
      const principal = await requirePrincipal(authenticate, request);
      await accounts.changePassword(principal, request.body.current_password, request.body.new_password);
      await deps.audit.record({ action: 'password.change', actor: principal.user, target: principal.user.username, address: request.ip });
      return reply.code(204).send();
    },
  );

  app.post<{ Body: { name: string; scopes: string[] } }>(
    '/api/v1/user/tokens',
    {
      schema: {
        summary: 'Create an API token (its secret is shown only here)',
        body: { type: 'object', required: ['name', 'scopes'], properties: { name: { type: 'string' }, scopes: { type: 'array', items: { type: 'string' } } } },
        // hf_token: the same token in the form Hugging Face clients accept (they refuse tokens not starting with hf_).
        response: { 201: { type: 'object', properties: { ...tokenProperties, token: { type: 'string' }, hf_token: { type: 'string' } } }, ...errors },
      },
    },
    async (request, reply) => {
      const principal = await requirePrincipal(authenticate, request);
      const created = await accounts.createToken(principal, request.body.name, request.body.scopes);
      await deps.audit.record({ action: 'token.create', actor: principal.user, target: principal.user.username, details: { token_id: created.id, name: created.name, scopes: created.scopes }, address: request.ip });
      return reply.code(201).send({ id: created.id, name: created.name, scopes: created.scopes, token: created.token, hf_token: `hf_${created.token}`, created_at: created.createdAt.toISOString() });
    },
  );

  app.get('/api/v1/user/tokens', { schema: { summary: "The signed-in user's API tokens", response: { 200: { type: 'array', items: tokenSchema }, ...errors } } }, async (request) => {
    const principal = await requirePrincipal(authenticate, request);
    return (await accounts.listTokens(principal)).map((t) => ({
      id: t.id,
      name: t.name,
      scopes: t.scopes,
      created_at: t.createdAt.toISOString(),
      last_used_at: t.lastUsedAt?.toISOString() ?? null,
    }));
  });

  app.delete<{ Params: { id: string } }>(
    '/api/v1/user/tokens/:id',
    { schema: { summary: 'Revoke an API token', params: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } }, response: { 204: noContent, ...errors } } },
    async (request, reply) => {
      const principal = await requirePrincipal(authenticate, request);
      const id = Number(request.params.id);
      if (!Number.isSafeInteger(id) || id <= 0) throw invalid('token id must be a positive integer');
      await accounts.revokeToken(principal, id);
      await deps.audit.record({ action: 'token.revoke', actor: principal.user, target: principal.user.username, details: { token_id: id }, address: request.ip });
      return reply.code(204).send();
    },
  );
}
