// The access matrix of every route (issue 16): each route Fastify registers has a row saying what
// anonymous callers, another user, the owner's read-only token, read and write collaborators, the
// owner and a site admin get, on a public and a private repository (routes without a repository:
// one set). Every cell is a real request against one real server. A route without a row fails the
// test by name, so whoever adds a route adds its row. Missing repositories must answer strangers
// exactly as private ones do (issue 16 hole 7), and that is checked for every repository route.
import t from 'tap';
import diagnostics from 'node:diagnostics_channel';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../server/config.ts';
import { GitClient } from './helpers/git-client.ts';
import { startServer } from './helpers/server.ts';

const ACTORS = ['anonymous', 'stranger', 'read-only token', 'read collaborator', 'write collaborator', 'owner', 'admin'] as const;
type Actor = (typeof ACTORS)[number];
type Visibility = 'public' | 'private';
/** Statuses in ACTORS order. */
type Row7 = [number, number, number, number, number, number, number];

interface Cell {
  actor: Actor;
  visibility: Visibility | null;
  owner: string;
  name: string;
  /** Unique per cell, for names a request creates. */
  tag: string;
}
interface Req {
  method: string;
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
}
interface Own {
  what: string;
  request: (c: Cell) => Promise<Req & { authorization: string }>;
  status: number;
}
type RepoRow = { public: Row7; private: Row7; request: (c: Cell) => Req; fresh?: boolean; own?: Own };
type PlainRow = { all: Row7; request: (c: Cell) => Req; own?: Own };

// Profiles: who passes RepoService.authorize at each level; `ok` is the route's success status.
const read = (ok = 200) => ({ public: [ok, ok, ok, ok, ok, ok, ok] as Row7, private: [401, 404, ok, ok, ok, ok, ok] as Row7 });
const write = (ok = 200) => ({ public: [401, 403, 403, 403, ok, ok, ok] as Row7, private: [401, 404, 403, 403, ok, ok, ok] as Row7 });
const admin = (ok = 200) => ({ public: [401, 403, 403, 403, 403, ok, ok] as Row7, private: [401, 404, 403, 403, 403, ok, ok] as Row7 });
const everyone = (status: number): Row7 => [status, status, status, status, status, status, status];
/** Routes that authenticate with something else than a user: every user credential gets `status`. */
const notForUsers = (status: number) => ({ public: everyone(status), private: everyone(status) });
/** Web pages: session cookies only, so every Basic credential sees what anonymous visitors see. */
const webPage = () => ({ public: everyone(200), private: everyone(303) });
/** A repository of the other kind (a model asked for as a dataset): RepoNotFound to everyone who may see it. */
const otherKind = { public: everyone(404), private: [401, 404, 404, 404, 404, 404, 404] as Row7 };
/** The same for routes that need write access: refused first to those who may not write. */
const otherKindWrite = { public: [401, 403, 403, 403, 404, 404, 404] as Row7, private: [401, 404, 403, 403, 404, 404, 404] as Row7 };
/** A Hub commit (NDJSON) adding one file. */
const hubCommitBody = (c: Cell) =>
  [{ key: 'header', value: { summary: c.tag } }, { key: 'file', value: { path: `${c.tag}.txt`, content: Buffer.from(c.tag).toString('base64'), encoding: 'base64' } }].map((line) => JSON.stringify(line)).join('\n');

const api = (c: Cell) => `/api/v1/repos/${c.owner}/${c.name}`;
const lfsJson = { accept: 'application/vnd.git-lfs+json', 'content-type': 'application/vnd.git-lfs+json' };
const OID = 'a'.repeat(64);
const SHA_PLACEHOLDER = '{sha}';
const NO_DELIVERY = '00000000-0000-4000-8000-000000000000';
const pkt = (line: string) => `${(line.length + 4).toString(16).padStart(4, '0')}${line}`;

t.test('every registered route has an access-matrix row, and each row holds against a real server', async (t) => {
  const registered: string[] = [];
  const collect = (message: unknown) =>
    (message as { fastify: FastifyInstance }).fastify.addHook('onRoute', (route) => {
      // HEAD routes are Fastify's own copies of GET routes (same handler, no body).
      for (const method of [route.method].flat()) if (method !== 'HEAD') registered.push(`${method} ${route.url}`);
    });
  diagnostics.subscribe('fastify.initialization', collect);
  const server = await startServer(t, { config: { webhooks: { ...loadConfig({}).webhooks, allow: ['127.0.0.1'] } } });
  diagnostics.unsubscribe('fastify.initialization', collect);

  const scopes = ['read', 'write', 'admin', 'tokens'];
  const [owner, stranger, reader, writer] = await Promise.all(['owner', 'stranger', 'reader', 'writer'].map((name) => server.user(name, scopes)));
  const readOnly = await server.api('POST', '/api/v1/user/tokens', { auth: owner!.basic, body: { name: 'read-only', scopes: ['read'] } });
  const adminBasic = `${server.admin.username}:${server.admin.password}`;
  const credentials: Record<Actor, string | null> = {
    anonymous: null,
    stranger: stranger!.tokenBasic,
    'read-only token': `owner:${readOnly.body.token as string}`,
    'read collaborator': reader!.tokenBasic,
    'write collaborator': writer!.tokenBasic,
    owner: owner!.tokenBasic,
    admin: adminBasic,
  };
  const ownerToken = owner!.token;
  const runnerToken = server.services.runs.runnerToken;

  const git = await GitClient.create(t);
  const seed = await git.workRepo('seed', [{ 'README.md': '# seeded\n', 'docs/a.md': 'a\n' }]);
  const sha = (await git.ok(['rev-parse', 'HEAD'], { cwd: seed })).trim();
  await server.user('extra');
  /** A repo with the three collaborators, a webhook, and optionally the seed commit; answers the hook id. */
  const makeRepo = async (name: string, visibility: Visibility, push: boolean): Promise<number> => {
    const created = await server.api('POST', '/api/v1/repos', { auth: ownerToken, body: { name, private: visibility === 'private' } });
    if (created.status !== 201) throw new Error(`create ${name}: ${created.status}`);
    for (const [user, role] of [
      ['reader', 'read'],
      ['writer', 'write'],
      ['extra', 'read'],
    ] as const) {
      await server.api('PUT', `/api/v1/repos/owner/${name}/collaborators/${user}`, { auth: ownerToken, body: { role } });
    }
    if (push) await git.ok(['push', '-q', server.gitUrl('owner', name, owner!.tokenBasic), 'main'], { cwd: seed });
    const hook = await server.api('POST', `/api/v1/repos/owner/${name}/hooks`, { auth: ownerToken, body: { url: 'http://127.0.0.1:1/hook', events: ['push'] } });
    if (hook.status !== 201) throw new Error(`hook on ${name}: ${hook.status} ${JSON.stringify(hook.body)}`);
    return hook.body.id as number;
  };
  const shared: Record<Visibility, { name: string; hook: number }> = {
    public: { name: 'pub', hook: await makeRepo('pub', 'public', true) },
    private: { name: 'priv', hook: await makeRepo('priv', 'private', true) },
  };
  // A missing repo is asked about the private repo's hook id.
  const hookOf = (c: Cell) => freshHooks.get(c.name) ?? (c.name === shared.public.name ? shared.public.hook : shared.private.hook);
  const freshHooks = new Map<string, number>();

  /** A download action token from the batch API, as git-lfs would use it (own credentials of the transfer routes). */
  const actionToken = async (c: Cell, operation: 'upload' | 'download'): Promise<{ href: string; authorization: string }> => {
    const content = Buffer.from(`object for ${c.tag}\n`);
    const oid = (await import('node:crypto')).createHash('sha256').update(content).digest('hex');
    if (operation === 'download') {
      const up = await fetch(`${server.url}/owner/${c.name}.git/info/lfs/objects/batch`, {
        method: 'POST',
        headers: { ...lfsJson, authorization: `Bearer ${ownerToken}` },
        body: JSON.stringify({ operation: 'upload', objects: [{ oid, size: content.length }] }),
      });
      const put = ((await up.json()) as { objects: { actions: { upload: { href: string; header: Record<string, string> } } }[] }).objects[0]!.actions.upload;
      await fetch(put.href, { method: 'PUT', headers: put.header, body: new Uint8Array(content) });
    }
    const batch = await fetch(`${server.url}/owner/${c.name}.git/info/lfs/objects/batch`, {
      method: 'POST',
      headers: { ...lfsJson, authorization: `Bearer ${ownerToken}` },
      body: JSON.stringify({ operation, objects: [{ oid: operation === 'download' ? oid : OID, size: operation === 'download' ? content.length : 1 }] }),
    });
    const action = ((await batch.json()) as { objects: { actions: Record<string, { href: string; header: { Authorization: string } }> }[] }).objects[0]!.actions[operation]!;
    return { href: action.href, authorization: action.header.Authorization };
  };

  const repoRows: Record<string, RepoRow> = {
    'GET /api/v1/repos/:owner/:name': { ...read(), request: (c) => ({ method: 'GET', path: api(c) }) },
    'PATCH /api/v1/repos/:owner/:name': { ...admin(), request: (c) => ({ method: 'PATCH', path: api(c), body: { description: `by ${c.actor}` } }) },
    'DELETE /api/v1/repos/:owner/:name': { ...admin(204), fresh: true, request: (c) => ({ method: 'DELETE', path: api(c) }) },
    // Anyone who reads a repo may fork it, with a credential that may write (not a read-only token).
    'POST /api/v1/repos/:owner/:name/forks': {
      public: [401, 201, 403, 201, 201, 201, 201],
      private: [401, 404, 403, 201, 201, 201, 201],
      request: (c) => ({ method: 'POST', path: `${api(c)}/forks`, body: { name: `fork-${c.tag}` } }),
    },
    'GET /api/v1/repos/:owner/:name/pushes': { ...read(), request: (c) => ({ method: 'GET', path: `${api(c)}/pushes` }) },
    'GET /api/v1/repos/:owner/:name/collaborators': { ...read(), request: (c) => ({ method: 'GET', path: `${api(c)}/collaborators` }) },
    'PUT /api/v1/repos/:owner/:name/collaborators/:username': { ...admin(204), request: (c) => ({ method: 'PUT', path: `${api(c)}/collaborators/extra`, body: { role: 'read' } }) },
    'DELETE /api/v1/repos/:owner/:name/collaborators/:username': { ...admin(204), fresh: true, request: (c) => ({ method: 'DELETE', path: `${api(c)}/collaborators/extra` }) },
    'POST /api/v1/repos/:owner/:name/hooks': { ...admin(201), request: (c) => ({ method: 'POST', path: `${api(c)}/hooks`, body: { url: `http://127.0.0.1:1/${c.tag}` } }) },
    'GET /api/v1/repos/:owner/:name/hooks': { ...admin(), request: (c) => ({ method: 'GET', path: `${api(c)}/hooks` }) },
    'GET /api/v1/repos/:owner/:name/hooks/:id': { ...admin(), request: (c) => ({ method: 'GET', path: `${api(c)}/hooks/${hookOf(c)}` }) },
    'PATCH /api/v1/repos/:owner/:name/hooks/:id': { ...admin(), request: (c) => ({ method: 'PATCH', path: `${api(c)}/hooks/${hookOf(c)}`, body: { active: true } }) },
    'DELETE /api/v1/repos/:owner/:name/hooks/:id': { ...admin(204), fresh: true, request: (c) => ({ method: 'DELETE', path: `${api(c)}/hooks/${hookOf(c)}` }) },
    'GET /api/v1/repos/:owner/:name/hooks/:id/deliveries': { ...admin(), request: (c) => ({ method: 'GET', path: `${api(c)}/hooks/${hookOf(c)}/deliveries` }) },
    // No delivery with that id: those allowed in get the delivery's 404.
    'GET /api/v1/repos/:owner/:name/hooks/:id/deliveries/:delivery': { ...admin(404), request: (c) => ({ method: 'GET', path: `${api(c)}/hooks/${hookOf(c)}/deliveries/${NO_DELIVERY}` }) },
    'POST /api/v1/repos/:owner/:name/hooks/:id/deliveries/:delivery/redeliver': {
      ...admin(404),
      request: (c) => ({ method: 'POST', path: `${api(c)}/hooks/${hookOf(c)}/deliveries/${NO_DELIVERY}/redeliver` }),
    },
    'POST /api/v1/repos/:owner/:name/statuses/:sha': { ...write(201), request: (c) => ({ method: 'POST', path: `${api(c)}/statuses/${SHA_PLACEHOLDER}`, body: { state: 'success', context: c.tag } }) },
    'GET /api/v1/repos/:owner/:name/commits/:ref/statuses': { ...read(), request: (c) => ({ method: 'GET', path: `${api(c)}/commits/main/statuses` }) },
    'GET /api/v1/repos/:owner/:name/commits/:ref/status': { ...read(), request: (c) => ({ method: 'GET', path: `${api(c)}/commits/main/status` }) },
    'GET /api/v1/repos/:owner/:name/lfs/objects': { ...read(), request: (c) => ({ method: 'GET', path: `${api(c)}/lfs/objects` }) },
    'GET /api/v1/repos/:owner/:name/refs': { ...read(), request: (c) => ({ method: 'GET', path: `${api(c)}/refs` }) },
    'GET /api/v1/repos/:owner/:name/commits': { ...read(), request: (c) => ({ method: 'GET', path: `${api(c)}/commits` }) },
    'GET /api/v1/repos/:owner/:name/tree/:ref': { ...read(), request: (c) => ({ method: 'GET', path: `${api(c)}/tree/main` }) },
    'GET /api/v1/repos/:owner/:name/tree/:ref/*': { ...read(), request: (c) => ({ method: 'GET', path: `${api(c)}/tree/main/docs` }) },
    'GET /api/v1/repos/:owner/:name/blob/:ref/*': { ...read(), request: (c) => ({ method: 'GET', path: `${api(c)}/blob/main/README.md` }) },
    'GET /api/v1/repos/:owner/:name/runs': { ...read(), request: (c) => ({ method: 'GET', path: `${api(c)}/runs` }) },
    // The seed commit has no mlproject.yaml: those allowed in are told so (422).
    'POST /api/v1/repos/:owner/:name/runs': { ...write(422), request: (c) => ({ method: 'POST', path: `${api(c)}/runs`, body: { ref: 'main' } }) },
    // No run 999999 in these repos: those allowed in get the run's 404.
    'GET /api/v1/repos/:owner/:name/runs/:id': { ...read(404), request: (c) => ({ method: 'GET', path: `${api(c)}/runs/999999` }) },
    'POST /api/v1/repos/:owner/:name/runs/:id/cancel': { ...write(404), request: (c) => ({ method: 'POST', path: `${api(c)}/runs/999999/cancel` }) },
    'GET /api/v1/repos/:owner/:name/runs/:id/logs': { ...read(404), request: (c) => ({ method: 'GET', path: `${api(c)}/runs/999999/logs` }) },
    'GET /api/v1/repos/:owner/:name/runs/:id/outputs/*': { ...read(404), request: (c) => ({ method: 'GET', path: `${api(c)}/runs/999999/outputs/model.pkl` }) },
    'GET /api/v1/repos/:owner/:name/models': { ...read(), request: (c) => ({ method: 'GET', path: `${api(c)}/models` }) },
    'GET /api/v1/repos/:owner/:name/models/:model/versions': { ...read(), request: (c) => ({ method: 'GET', path: `${api(c)}/models/clf/versions` }) },
    'POST /api/v1/repos/:owner/:name/models/:model/versions': { ...write(404), request: (c) => ({ method: 'POST', path: `${api(c)}/models/clf/versions`, body: { run_id: 999999 } }) },
    'GET /api/v1/repos/:owner/:name/models/:model/versions/:version': { ...read(404), request: (c) => ({ method: 'GET', path: `${api(c)}/models/clf/versions/1` }) },
    'GET /api/v1/repos/:owner/:name/models/:model/versions/:version/lineage': { ...read(404), request: (c) => ({ method: 'GET', path: `${api(c)}/models/clf/versions/1/lineage` }) },
    'GET /api/v1/repos/:owner/:name/models/:model/versions/:version/download': { ...read(404), request: (c) => ({ method: 'GET', path: `${api(c)}/models/clf/versions/1/download` }) },
    'POST /api/v1/repos/:owner/:name/models/:model/versions/:version/approvals': { ...write(404), request: (c) => ({ method: 'POST', path: `${api(c)}/models/clf/versions/1/approvals`, body: { alias: 'production' } }) },
    'GET /api/v1/repos/:owner/:name/models/:model/aliases': { ...read(), request: (c) => ({ method: 'GET', path: `${api(c)}/models/clf/aliases` }) },
    'GET /api/v1/repos/:owner/:name/models/:model/aliases/:alias': { ...read(404), request: (c) => ({ method: 'GET', path: `${api(c)}/models/clf/aliases/production` }) },
    'PUT /api/v1/repos/:owner/:name/models/:model/aliases/:alias': { ...write(404), request: (c) => ({ method: 'PUT', path: `${api(c)}/models/clf/aliases/production`, body: { version: 1, expected_version: null } }) },
    'GET /api/v1/repos/:owner/:name/models/:model/aliases/:alias/history': { ...read(), request: (c) => ({ method: 'GET', path: `${api(c)}/models/clf/aliases/production/history` }) },
    'GET /api/v1/repos/:owner/:name/models/:model/aliases/:alias/download': { ...read(404), request: (c) => ({ method: 'GET', path: `${api(c)}/models/clf/aliases/production/download` }) },
    // Deployments (none in these repos: those allowed in get the deployment's 404, or the alias's on create).
    'POST /api/v1/repos/:owner/:name/deployments': { ...write(404), request: (c) => ({ method: 'POST', path: `${api(c)}/deployments`, body: { model: 'clf', command: 'true' } }) },
    'GET /api/v1/repos/:owner/:name/deployments': { ...read(), request: (c) => ({ method: 'GET', path: `${api(c)}/deployments` }) },
    'GET /api/v1/repos/:owner/:name/deployments/:model': { ...read(404), request: (c) => ({ method: 'GET', path: `${api(c)}/deployments/clf` }) },
    'DELETE /api/v1/repos/:owner/:name/deployments/:model': { ...write(404), request: (c) => ({ method: 'DELETE', path: `${api(c)}/deployments/clf` }) },
    'GET /api/v1/repos/:owner/:name/deployments/:model/logs': { ...read(404), request: (c) => ({ method: 'GET', path: `${api(c)}/deployments/clf/logs` }) },
    // The serving proxy (test/serving-hostile.test.ts has the matrix of a running deployment, public or not).
    'GET /serve/:owner/:repo/v2/models/:model': { ...read(404), request: (c) => ({ method: 'GET', path: `/serve/${c.owner}/${c.name}/v2/models/clf` }) },
    'GET /serve/:owner/:repo/v2/models/:model/ready': { ...read(404), request: (c) => ({ method: 'GET', path: `/serve/${c.owner}/${c.name}/v2/models/clf/ready` }) },
    'POST /serve/:owner/:repo/v2/models/:model/infer': { ...read(404), request: (c) => ({ method: 'POST', path: `/serve/${c.owner}/${c.name}/v2/models/clf/infer`, body: { inputs: [] } }) },
    'GET /serve/:owner/:repo/:model/*': { ...read(404), request: (c) => ({ method: 'GET', path: `/serve/${c.owner}/${c.name}/clf/anything` }) },
    'POST /serve/:owner/:repo/:model/*': { ...read(404), request: (c) => ({ method: 'POST', path: `/serve/${c.owner}/${c.name}/clf/anything`, body: { x: 1 } }) },
    'PUT /serve/:owner/:repo/:model/*': { ...read(404), request: (c) => ({ method: 'PUT', path: `/serve/${c.owner}/${c.name}/clf/anything`, body: { x: 1 } }) },
    'PATCH /serve/:owner/:repo/:model/*': { ...read(404), request: (c) => ({ method: 'PATCH', path: `/serve/${c.owner}/${c.name}/clf/anything`, body: { x: 1 } }) },
    'DELETE /serve/:owner/:repo/:model/*': { ...read(404), request: (c) => ({ method: 'DELETE', path: `/serve/${c.owner}/${c.name}/clf/anything` }) },
    'GET /api/v1/repos/:owner/:name/commits/:sha/metrics': { ...read(), request: (c) => ({ method: 'GET', path: `${api(c)}/commits/${SHA_PLACEHOLDER}/metrics` }) },
    'GET /api/v1/repos/:owner/:name/metrics/compare': { ...read(), request: (c) => ({ method: 'GET', path: `${api(c)}/metrics/compare?base=main&head=main` }) },
    'GET /api/v1/repos/:owner/:name/metrics/history': { ...read(), request: (c) => ({ method: 'GET', path: `${api(c)}/metrics/history?key=accuracy` }) },
    // Git LFS (git-lfs docs/api). The batch API authenticates users; transfers only action tokens.
    'POST /:owner/:repo/info/lfs/objects/batch': {
      ...read(),
      request: (c) => ({ method: 'POST', path: `/${c.owner}/${c.name}.git/info/lfs/objects/batch`, headers: lfsJson, body: { operation: 'download', objects: [{ oid: OID, size: 1 }] } }),
    },
    'PUT /:owner/:repo/info/lfs/objects/:oid': {
      ...notForUsers(404),
      request: (c) => ({ method: 'PUT', path: `/${c.owner}/${c.name}.git/info/lfs/objects/${OID}`, headers: { 'content-type': 'application/octet-stream' }, body: 'x' }),
      own: {
        what: 'an upload action token (wrong bytes: 422 after the token is accepted)',
        request: async (c) => {
          const action = await actionToken(c, 'upload');
          return { method: 'PUT', path: new URL(action.href).pathname, headers: { 'content-type': 'application/octet-stream' }, body: 'x', authorization: action.authorization };
        },
        status: 422,
      },
    },
    'GET /:owner/:repo/info/lfs/objects/:oid': {
      ...notForUsers(404),
      request: (c) => ({ method: 'GET', path: `/${c.owner}/${c.name}.git/info/lfs/objects/${OID}` }),
      own: {
        what: 'a download action token',
        request: async (c) => {
          const action = await actionToken(c, 'download');
          return { method: 'GET', path: new URL(action.href).pathname, authorization: action.authorization };
        },
        status: 200,
      },
    },
    'POST /:owner/:repo/info/lfs/verify': {
      ...notForUsers(404),
      request: (c) => ({ method: 'POST', path: `/${c.owner}/${c.name}.git/info/lfs/verify`, headers: lfsJson, body: { oid: OID, size: 1 } }),
    },
    'POST /:owner/:repo/info/lfs/locks': {
      ...write(201),
      request: (c) => ({ method: 'POST', path: `/${c.owner}/${c.name}.git/info/lfs/locks`, headers: lfsJson, body: { path: `${c.tag}.bin` } }),
    },
    'GET /:owner/:repo/info/lfs/locks': { ...read(), request: (c) => ({ method: 'GET', path: `/${c.owner}/${c.name}.git/info/lfs/locks`, headers: lfsJson }) },
    'POST /:owner/:repo/info/lfs/locks/verify': { ...write(), request: (c) => ({ method: 'POST', path: `/${c.owner}/${c.name}.git/info/lfs/locks/verify`, headers: lfsJson, body: {} }) },
    // No lock 999999: those allowed in get the lock's 404.
    'POST /:owner/:repo/info/lfs/locks/:id/unlock': {
      ...write(404),
      request: (c) => ({ method: 'POST', path: `/${c.owner}/${c.name}.git/info/lfs/locks/999999/unlock`, headers: lfsJson, body: {} }),
    },
    // Git smart HTTP (raw requests as git sends them; test/access-matrix.test.ts runs the real client).
    'GET /:owner/:repo/info/refs': { ...read(), request: (c) => ({ method: 'GET', path: `/${c.owner}/${c.name}.git/info/refs?service=git-upload-pack` }) },
    'POST /:owner/:repo/git-upload-pack': {
      ...read(),
      request: (c) => ({
        method: 'POST',
        path: `/${c.owner}/${c.name}.git/git-upload-pack`,
        headers: { 'content-type': 'application/x-git-upload-pack-request', 'git-protocol': 'version=2' },
        body: `${pkt('command=ls-refs\n')}0000`,
      }),
    },
    'POST /:owner/:repo/git-receive-pack': {
      ...write(),
      request: (c) => ({ method: 'POST', path: `/${c.owner}/${c.name}.git/git-receive-pack`, headers: { 'content-type': 'application/x-git-receive-pack-request' }, body: '0000' }),
    },
    // Web pages (test/web-views.test.ts has their matrix with session cookies): a browser signs in
    // with a session, so Basic credentials count for nothing and everyone is anonymous: the public
    // repo's page, the sign-in redirect (303) for a private or missing one; forms without the
    // session's CSRF token are refused (403).
    'GET /:owner/:repo': { ...webPage(), request: (c) => ({ method: 'GET', path: `/${c.owner}/${c.name}` }) },
    'POST /:owner/:repo/fork': { ...notForUsers(403), request: (c) => ({ method: 'POST', path: `/${c.owner}/${c.name}/fork`, body: {} }) },
    'GET /:owner/:repo/tree/:ref': { ...webPage(), request: (c) => ({ method: 'GET', path: `/${c.owner}/${c.name}/tree/main` }) },
    'GET /:owner/:repo/tree/:ref/*': { ...webPage(), request: (c) => ({ method: 'GET', path: `/${c.owner}/${c.name}/tree/main/docs` }) },
    'GET /:owner/:repo/blob/:ref/*': { ...webPage(), request: (c) => ({ method: 'GET', path: `/${c.owner}/${c.name}/blob/main/README.md` }) },
    'GET /:owner/:repo/raw/:ref/*': { ...webPage(), request: (c) => ({ method: 'GET', path: `/${c.owner}/${c.name}/raw/main/README.md`, headers: { accept: 'text/html' } }) },
    'GET /:owner/:repo/resolve/:ref/*': { ...webPage(), request: (c) => ({ method: 'GET', path: `/${c.owner}/${c.name}/resolve/main/README.md`, headers: { accept: 'text/html' } }) },
    // The ref picker's box: the same file or folder at the ref typed in (302); the sign-in redirect for a private repo.
    'GET /:owner/:repo/goto': { public: everyone(302), private: everyone(303), request: (c) => ({ method: 'GET', path: `/${c.owner}/${c.name}/goto?ref=main&view=tree&path=docs` }) },
    'GET /:owner/:repo/metrics': { ...webPage(), request: (c) => ({ method: 'GET', path: `/${c.owner}/${c.name}/metrics` }) },
    'GET /:owner/:repo/compare': { ...webPage(), request: (c) => ({ method: 'GET', path: `/${c.owner}/${c.name}/compare` }) },
    'GET /:owner/:repo/compare/*': { ...webPage(), request: (c) => ({ method: 'GET', path: `/${c.owner}/${c.name}/compare/main...main` }) },
    'GET /:owner/:repo/commits/:ref': { ...webPage(), request: (c) => ({ method: 'GET', path: `/${c.owner}/${c.name}/commits/main` }) },
    'GET /:owner/:repo/commit/:sha': { ...webPage(), request: (c) => ({ method: 'GET', path: `/${c.owner}/${c.name}/commit/main` }) },
    'GET /:owner/:repo/runs': { ...webPage(), request: (c) => ({ method: 'GET', path: `/${c.owner}/${c.name}/runs?status=success` }) },
    'GET /:owner/:repo/runs/statuses': { ...webPage(), request: (c) => ({ method: 'GET', path: `/${c.owner}/${c.name}/runs/statuses?id=1&id=999999` }) },
    // No such run: the public repo's 404 page; the private repo's sign-in redirect comes first.
    'GET /:owner/:repo/runs/:id': { public: everyone(404), private: everyone(303), request: (c) => ({ method: 'GET', path: `/${c.owner}/${c.name}/runs/999999` }) },
    'GET /:owner/:repo/runs/:id/log': { public: everyone(404), private: everyone(303), request: (c) => ({ method: 'GET', path: `/${c.owner}/${c.name}/runs/999999/log` }) },
    'GET /:owner/:repo/runs/:id/events': { public: everyone(404), private: everyone(303), request: (c) => ({ method: 'GET', path: `/${c.owner}/${c.name}/runs/999999/events` }) },
    'GET /:owner/:repo/runs/:id/outputs/*': { public: everyone(404), private: everyone(303), request: (c) => ({ method: 'GET', path: `/${c.owner}/${c.name}/runs/999999/outputs/model.pkl` }) },
    'POST /:owner/:repo/runs/:id/cancel': { ...notForUsers(403), request: (c) => ({ method: 'POST', path: `/${c.owner}/${c.name}/runs/999999/cancel`, body: {} }) },
    'POST /:owner/:repo/runs/:id/rerun': { ...notForUsers(403), request: (c) => ({ method: 'POST', path: `/${c.owner}/${c.name}/runs/999999/rerun`, body: {} }) },
    // Settings are for repo admins: without a session everyone is sent to sign in (test/web-settings.test.ts has the matrix with sessions).
    'GET /:owner/:repo/settings': { public: everyone(303), private: everyone(303), request: (c) => ({ method: 'GET', path: `/${c.owner}/${c.name}/settings` }) },
    'POST /:owner/:repo/settings': { ...notForUsers(403), request: (c) => ({ method: 'POST', path: `/${c.owner}/${c.name}/settings`, body: { description: 'x' } }) },
    'POST /:owner/:repo/settings/collaborators': { ...notForUsers(403), request: (c) => ({ method: 'POST', path: `/${c.owner}/${c.name}/settings/collaborators`, body: { username: 'extra', role: 'write' } }) },
    'POST /:owner/:repo/settings/collaborators/remove': { ...notForUsers(403), request: (c) => ({ method: 'POST', path: `/${c.owner}/${c.name}/settings/collaborators/remove`, body: { username: 'extra' } }) },
    'POST /:owner/:repo/settings/hooks': { ...notForUsers(403), request: (c) => ({ method: 'POST', path: `/${c.owner}/${c.name}/settings/hooks`, body: { url: 'http://127.0.0.1:1/x' } }) },
    'GET /:owner/:repo/settings/hooks/:id': { public: everyone(303), private: everyone(303), request: (c) => ({ method: 'GET', path: `/${c.owner}/${c.name}/settings/hooks/${hookOf(c)}` }) },
    'POST /:owner/:repo/settings/hooks/:id': { ...notForUsers(403), request: (c) => ({ method: 'POST', path: `/${c.owner}/${c.name}/settings/hooks/${hookOf(c)}`, body: { url: 'http://127.0.0.1:1/x' } }) },
    'POST /:owner/:repo/settings/hooks/:id/delete': { ...notForUsers(403), request: (c) => ({ method: 'POST', path: `/${c.owner}/${c.name}/settings/hooks/${hookOf(c)}/delete`, body: {} }) },
    'GET /:owner/:repo/settings/hooks/:id/deliveries/:delivery': {
      public: everyone(303),
      private: everyone(303),
      request: (c) => ({ method: 'GET', path: `/${c.owner}/${c.name}/settings/hooks/${hookOf(c)}/deliveries/${NO_DELIVERY}` }),
    },
    'POST /:owner/:repo/settings/hooks/:id/deliveries/:delivery/redeliver': {
      ...notForUsers(403),
      request: (c) => ({ method: 'POST', path: `/${c.owner}/${c.name}/settings/hooks/${hookOf(c)}/deliveries/${NO_DELIVERY}/redeliver`, body: {} }),
    },
    // The Hugging Face Hub API (server/http/hf/; test/hf-*.test.ts drive the official client). Its
    // files answer requests that do not ask for HTML (the pages above keep browsers); the shared
    // repos are models, so the datasets routes answer those who may see them RepoNotFound (404).
    ...Object.fromEntries(
      (['models', 'datasets'] as const).flatMap((plural) => {
        const rows = plural === 'models' ? read() : otherKind;
        const files = plural === 'models' ? '' : '/datasets';
        const apiRepo = (c: Cell) => `/api/${plural}/${c.owner}/${c.name}`;
        return [
          [`GET ${files}/:owner/:repo/resolve/:revision/*`, { ...rows, request: (c: Cell) => ({ method: 'GET', path: `${files}/${c.owner}/${c.name}/resolve/main/README.md` }) }],
          [`GET ${files}/:owner/:repo/raw/:revision/*`, { ...rows, request: (c: Cell) => ({ method: 'GET', path: `${files}/${c.owner}/${c.name}/raw/main/README.md` }) }],
          [`GET /api/${plural}/:owner/:repo`, { ...rows, request: (c: Cell) => ({ method: 'GET', path: apiRepo(c) }) }],
          [`GET /api/${plural}/:owner/:repo/revision/:revision`, { ...rows, request: (c: Cell) => ({ method: 'GET', path: `${apiRepo(c)}/revision/main` }) }],
          [`GET /api/${plural}/:owner/:repo/tree/:revision`, { ...rows, request: (c: Cell) => ({ method: 'GET', path: `${apiRepo(c)}/tree/main` }) }],
          [`GET /api/${plural}/:owner/:repo/tree/:revision/*`, { ...rows, request: (c: Cell) => ({ method: 'GET', path: `${apiRepo(c)}/tree/main/docs` }) }],
          [`POST /api/${plural}/:owner/:repo/paths-info/:revision`, { ...rows, request: (c: Cell) => ({ method: 'POST', path: `${apiRepo(c)}/paths-info/main`, body: { paths: ['README.md'] } }) }],
          [`GET /api/${plural}/:owner/:repo/refs`, { ...rows, request: (c: Cell) => ({ method: 'GET', path: `${apiRepo(c)}/refs` }) }],
          [`GET /api/${plural}/:owner/:repo/commits/:revision`, { ...rows, request: (c: Cell) => ({ method: 'GET', path: `${apiRepo(c)}/commits/main` }) }],
          [`POST /api/${plural}/:owner/:repo/preupload/:revision`, { ...(plural === 'models' ? write() : otherKindWrite), request: (c: Cell) => ({ method: 'POST', path: `${apiRepo(c)}/preupload/main`, body: { files: [{ path: 'a.bin', size: 1, sample: 'AA==' }] } }) }],
          // A fresh, empty repository per cell: the commit creates its main branch (no races between cells).
          [`POST /api/${plural}/:owner/:repo/commit/:revision`, { ...(plural === 'models' ? write() : otherKindWrite), fresh: plural === 'models', request: (c: Cell) => ({ method: 'POST', path: `${apiRepo(c)}/commit/main`, headers: { 'content-type': 'application/x-ndjson' }, body: hubCommitBody(c) }) }],
        ] satisfies [string, RepoRow][];
      }),
    ),
    // A dataset's LFS batch URL as HF clients build it: a 307 to mlgit's own for everyone (the batch API there checks access).
    'POST /datasets/:owner/:repo/info/lfs/objects/batch': {
      public: everyone(307),
      private: everyone(307),
      request: (c) => ({ method: 'POST', path: `/datasets/${c.owner}/${c.name}.git/info/lfs/objects/batch`, headers: lfsJson, body: { operation: 'download', objects: [{ oid: OID, size: 1 }] } }),
    },
    // Deleting needs admin access, as DELETE /api/v1/repos/:owner/:name.
    'DELETE /api/repos/delete': { ...admin(), fresh: true, request: (c) => ({ method: 'DELETE', path: '/api/repos/delete', body: { name: c.name, organization: c.owner, type: 'model' } }) },
    // Badges are fetched anonymously by other sites: a private repo's badge is the missing repo's 404, never a sign-in redirect.
    'GET /:owner/:repo/badges/:branch/:job': { public: everyone(200), private: everyone(404), request: (c) => ({ method: 'GET', path: `/${c.owner}/${c.name}/badges/main/train.svg` }) },
  };

  const plainRows: Record<string, PlainRow> = {
    'GET /api/docs': { all: everyone(200), request: () => ({ method: 'GET', path: '/api/docs' }) },
    'GET /api/docs/static/index.html': { all: everyone(302), request: () => ({ method: 'GET', path: '/api/docs/static/index.html' }) },
    'GET /api/docs/static/swagger-initializer.js': { all: everyone(200), request: () => ({ method: 'GET', path: '/api/docs/static/swagger-initializer.js' }) },
    'GET /api/docs/json': { all: everyone(200), request: () => ({ method: 'GET', path: '/api/docs/json' }) },
    'GET /api/docs/yaml': { all: everyone(200), request: () => ({ method: 'GET', path: '/api/docs/yaml' }) },
    'GET /api/docs/static/*': { all: everyone(200), request: () => ({ method: 'GET', path: '/api/docs/static/swagger-ui.css' }) },
    'GET /api/v1/openapi.json': { all: everyone(200), request: () => ({ method: 'GET', path: '/api/v1/openapi.json' }) },
    'GET /healthz': { all: everyone(200), request: () => ({ method: 'GET', path: '/healthz' }) },
    'GET /livez': { all: everyone(200), request: () => ({ method: 'GET', path: '/livez' }) },
    'GET /readyz': { all: everyone(200), request: () => ({ method: 'GET', path: '/readyz' }) },
    // Web pages without a session (Basic credentials do not sign a browser in); forms without a CSRF token: 403.
    'GET /': { all: everyone(200), request: () => ({ method: 'GET', path: '/' }) },
    'GET /explore': { all: everyone(200), request: () => ({ method: 'GET', path: '/explore?q=pub' }) },
    'GET /:owner': { all: everyone(200), request: () => ({ method: 'GET', path: '/owner' }) },
    'GET /static/:file': { all: everyone(404), request: () => ({ method: 'GET', path: '/static/site.0000.css' }) },
    'GET /login': { all: everyone(200), request: () => ({ method: 'GET', path: '/login' }) },
    'POST /login': { all: everyone(403), request: () => ({ method: 'POST', path: '/login', body: { username: 'owner', password: 'owner-password' } }) },
    'POST /logout': { all: everyone(403), request: () => ({ method: 'POST', path: '/logout', body: {} }) },
    'GET /signup': { all: everyone(404), request: () => ({ method: 'GET', path: '/signup' }) },
    'POST /signup': { all: everyone(403), request: () => ({ method: 'POST', path: '/signup', body: {} }) },
    'GET /new': { all: everyone(303), request: () => ({ method: 'GET', path: '/new' }) },
    'POST /new': { all: everyone(403), request: () => ({ method: 'POST', path: '/new', body: { name: 'x' } }) },
    'GET /settings': { all: everyone(303), request: () => ({ method: 'GET', path: '/settings' }) },
    'GET /settings/tokens': { all: everyone(303), request: () => ({ method: 'GET', path: '/settings/tokens' }) },
    'POST /settings/tokens': { all: everyone(403), request: () => ({ method: 'POST', path: '/settings/tokens', body: { name: 'x', 'scope.read': 'on' } }) },
    'POST /settings/tokens/:id/revoke': { all: everyone(403), request: () => ({ method: 'POST', path: '/settings/tokens/1/revoke', body: {} }) },
    'GET /settings/password': { all: everyone(303), request: () => ({ method: 'GET', path: '/settings/password' }) },
    'POST /settings/password': { all: everyone(403), request: () => ({ method: 'POST', path: '/settings/password', body: { current_password: 'owner-password', new_password: 'another-password' } }) },
    'GET /api/v1/schema/mlproject.json': { all: everyone(200), request: () => ({ method: 'GET', path: '/api/v1/schema/mlproject.json' }) },
    // Sign-up is closed: only a site admin creates users.
    'POST /api/v1/users': { all: [401, 403, 403, 403, 403, 403, 201], request: (c) => ({ method: 'POST', path: '/api/v1/users', body: { username: `u-${c.tag}`, password: 'a-long-enough-password' } }) },
    'GET /api/v1/user': { all: [401, 200, 200, 200, 200, 200, 200], request: () => ({ method: 'GET', path: '/api/v1/user' }) },
    // Credentials travel in the body; the caller's own do not matter.
    'POST /api/v1/auth/login': { all: everyone(200), request: () => ({ method: 'POST', path: '/api/v1/auth/login', body: { username: 'extra', password: 'extra-password' } }) },
    // Logging out is the account's act: a read-only token may not.
    'POST /api/v1/auth/logout': { all: [401, 204, 403, 204, 204, 204, 204], request: () => ({ method: 'POST', path: '/api/v1/auth/logout' }) },
    // A wrong current password changes nothing: who gets that far is told 403.
    'PATCH /api/v1/user/password': {
      all: [401, 403, 403, 403, 403, 403, 403],
      request: () => ({ method: 'PATCH', path: '/api/v1/user/password', body: { current_password: 'not-it', new_password: 'another-long-password' } }),
    },
    // Token management needs a login or the "tokens" scope (the read-only token has neither).
    'POST /api/v1/user/tokens': { all: [401, 201, 403, 201, 201, 201, 201], request: (c) => ({ method: 'POST', path: '/api/v1/user/tokens', body: { name: c.tag, scopes: ['read'] } }) },
    'GET /api/v1/user/tokens': { all: [401, 200, 403, 200, 200, 200, 200], request: () => ({ method: 'GET', path: '/api/v1/user/tokens' }) },
    'DELETE /api/v1/user/tokens/:id': { all: [401, 404, 403, 404, 404, 404, 404], request: () => ({ method: 'DELETE', path: '/api/v1/user/tokens/999999' }) },
    'PUT /api/v1/admin/users/:username/suspension': { all: [401, 403, 403, 403, 403, 403, 204], request: (c) => ({ method: 'PUT', path: `/api/v1/admin/users/${victim(c)}/suspension` }) },
    'DELETE /api/v1/admin/users/:username/suspension': { all: [401, 403, 403, 403, 403, 403, 204], request: (c) => ({ method: 'DELETE', path: `/api/v1/admin/users/${victim(c)}/suspension` }) },
    'DELETE /api/v1/admin/users/:username': { all: [401, 403, 403, 403, 403, 403, 200], request: (c) => ({ method: 'DELETE', path: `/api/v1/admin/users/${victim(c)}` }) },
    'GET /api/v1/admin/audit': { all: [401, 403, 403, 403, 403, 403, 200], request: () => ({ method: 'GET', path: '/api/v1/admin/audit' }) },
    // A user's storage use: the user and site admins; everyone else gets the missing user's 404.
    'GET /api/v1/users/:username/storage': { all: [404, 404, 200, 404, 404, 200, 200], request: () => ({ method: 'GET', path: '/api/v1/users/owner/storage' }) },
    // The Hugging Face Hub API: search, the caller, repository creation (in the caller's namespace).
    'GET /api/models': { all: everyone(200), request: () => ({ method: 'GET', path: '/api/models?search=pub' }) },
    'GET /api/datasets': { all: everyone(200), request: () => ({ method: 'GET', path: '/api/datasets' }) },
    'GET /api/whoami-v2': { all: [401, 200, 200, 200, 200, 200, 200], request: () => ({ method: 'GET', path: '/api/whoami-v2' }) },
    'POST /api/repos/create': { all: [401, 200, 403, 200, 200, 200, 200], request: (c) => ({ method: 'POST', path: '/api/repos/create', body: { name: `hf-${c.tag}`, type: 'model' } }) },
    'POST /api/v1/repos': { all: [401, 201, 403, 201, 201, 201, 201], request: (c) => ({ method: 'POST', path: '/api/v1/repos', body: { name: `new-${c.tag}` } }) },
    'GET /api/v1/repos': { all: everyone(200), request: () => ({ method: 'GET', path: '/api/v1/repos' }) },
    // The hook API: loopback plus the one-time secret of a push in flight, never user credentials
    // (every push in test/access-matrix.test.ts goes through it with a real secret).
    'POST /internal/hooks/:hook': { all: everyone(403), request: () => ({ method: 'POST', path: '/internal/hooks/pre-receive', headers: { 'content-type': 'text/plain' }, body: 'secret not-a-push\n' }) },
    // The runner protocol: the runner token only. With it, a run that does not exist cannot be
    // claimed or completed (404), and no attempt of it is held (409).
    ...Object.fromEntries(
      (
        [
          ['POST', '/api/v1/runner/runs/:id/claim', { attempt: 1, runner: 'matrix' }, 404],
          ['POST', '/api/v1/runner/runs/:id/heartbeat?attempt=1', undefined, 409],
          ['POST', '/api/v1/runner/runs/:id/log?attempt=1', 'log line\n', 409],
          ['PUT', `/api/v1/runner/runs/:id/outputs/*?attempt=1&size=5&oid=${OID}`, 'bytes', 409],
          ['GET', '/api/v1/runner/runs/:id/inputs/:oid', undefined, 409],
          ['POST', '/api/v1/runner/runs/:id/complete', { attempt: 1, outcome: 'exited', exit_code: 0, duration_ms: 1 }, 404],
        ] as const
      ).map(([method, url, body, status]) => {
        const path = url.replace(':id', '999999').replace('*', 'model.pkl').replace(':oid', OID);
        const headers = typeof body === 'string' ? { 'content-type': 'application/octet-stream' } : undefined;
        const request = (): Req => ({ method, path, body, headers });
        const row: PlainRow = { all: everyone(401), request, own: { what: 'the runner token', request: async () => ({ ...request(), authorization: `Bearer ${runnerToken}` }), status } };
        return [`${method} ${url.replace(/\?.*$/, '')}`, row];
      }),
    ),
  };
  const victims = new Map<string, string>();
  const victim = (c: Cell) => victims.get(c.tag) ?? 'nobody';

  await t.test('every route Fastify registered has a row, and every row a route', async (t) => {
    const rows = new Set([...Object.keys(repoRows), ...Object.keys(plainRows)]);
    const missing = registered.filter((route) => !rows.has(route));
    t.same(missing, [], `routes without an access-matrix row (add them to test/route-coverage.test.ts): ${missing.join(', ')}`);
    t.same([...rows].filter((row) => !registered.includes(row)), [], 'rows for routes that no longer exist');
  });

  // Every cell first (six requests at a time), then the assertions in table order.
  type Observed = { key: string; cell: Cell; expected: number; status: number; what: string };
  const jobs: (() => Promise<Observed>)[] = [];
  const send = async (req: Req, authorization: string | null) => {
    const headers: Record<string, string> = { ...req.headers };
    if (authorization) headers.authorization = authorization;
    let body: string | undefined;
    if (req.body !== undefined) {
      body = typeof req.body === 'string' ? req.body : JSON.stringify(req.body);
      headers['content-type'] ??= 'application/json';
    }
    const response = await fetch(server.url + req.path.replace(SHA_PLACEHOLDER, sha), { method: req.method, headers, body, redirect: 'manual' });
    await response.arrayBuffer();
    return response.status;
  };
  const basicHeader = (credential: string | null) => (credential ? `Basic ${Buffer.from(credential).toString('base64')}` : null);
  let serial = 0;
  const cellOf = (actor: Actor, visibility: Visibility | null, name: string): Cell => ({ actor, visibility, owner: 'owner', name, tag: `c${++serial}` });

  for (const [key, row] of Object.entries(repoRows)) {
    for (const visibility of ['public', 'private'] as const) {
      ACTORS.forEach((actor, i) => {
        jobs.push(async () => {
          let name = shared[visibility].name;
          if (row.fresh) {
            name = `fresh-${++serial}`;
            freshHooks.set(name, await makeRepo(name, visibility, false));
          }
          const cell = cellOf(actor, visibility, name);
          const status = await send(row.request(cell), basicHeader(credentials[actor]));
          return { key, cell, expected: row[visibility][i]!, status, what: `${actor} on the ${visibility} repo` };
        });
      });
      if (row.own) {
        const own = row.own;
        jobs.push(async () => {
          const cell = cellOf('owner', visibility, shared[visibility].name);
          const { authorization, ...req } = await own.request(cell);
          return { key, cell, expected: own.status, status: await send(req, authorization), what: `${own.what} on the ${visibility} repo` };
        });
      }
    }
    // Existence never leaks: a missing repo answers anonymous callers and strangers as a private one does.
    for (const [actor, i] of [
      ['anonymous', 0],
      ['stranger', 1],
    ] as const) {
      jobs.push(async () => {
        const cell = cellOf(actor, null, 'no-such-repo');
        const status = await send(row.request(cell), basicHeader(credentials[actor]));
        return { key, cell, expected: row.private[i], status, what: `${actor} on a missing repo (as on the private one)` };
      });
    }
  }
  for (const [key, row] of Object.entries(plainRows)) {
    ACTORS.forEach((actor, i) => {
      jobs.push(async () => {
        const cell = cellOf(actor, null, '');
        if (key.startsWith('PUT /api/v1/admin/') || key.startsWith('DELETE /api/v1/admin/')) {
          const target = `victim-${cell.tag}`;
          await server.api('POST', '/api/v1/users', { auth: adminBasic, body: { username: target, password: 'a-long-enough-password' } });
          victims.set(cell.tag, target);
        }
        const status = await send(row.request(cell), basicHeader(credentials[actor]));
        return { key, cell, expected: row.all[i]!, status, what: actor };
      });
    });
    if (row.own) {
      const own = row.own;
      jobs.push(async () => {
        const cell = cellOf('owner', null, '');
        const { authorization, ...req } = await own.request(cell);
        return { key, cell, expected: own.status, status: await send(req, authorization), what: own.what };
      });
    }
  }

  const observed: Observed[] = [];
  await Promise.all(
    Array.from({ length: 6 }, async () => {
      for (let job = jobs.shift(); job; job = jobs.shift()) observed.push(await job());
    }),
  );
  const byRoute = new Map<string, Observed[]>();
  for (const o of observed) byRoute.set(o.key, [...(byRoute.get(o.key) ?? []), o]);
  for (const key of [...Object.keys(repoRows), ...Object.keys(plainRows)]) {
    await t.test(key, async (t) => {
      for (const o of byRoute.get(key) ?? []) t.equal(o.status, o.expected, o.what);
    });
  }
});
