// The OpenAPI document at /api/v1/openapi.json and the reference at /api/docs: a well-formed
// OpenAPI 3.1 document whose $refs resolve, that covers every public REST route (and no protocol
// route), whose response schemas are valid JSON Schema and describe what a live server really
// answers, and a reference page that loads nothing from outside the server.
import t from 'tap';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { GitClient } from './helpers/git-client.ts';
import { startServer } from './helpers/server.ts';

type Json = any;
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

/** JSON Pointer lookup (RFC 6901) of a local `#/...` reference. */
function resolvePointer(doc: Json, ref: string): Json {
  if (!ref.startsWith('#/')) throw new Error(`non-local $ref ${ref}`);
  return ref
    .slice(2)
    .split('/')
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((node, key) => (node === undefined ? undefined : node[key]), doc);
}

function collectRefs(node: Json, found: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((item) => collectRefs(item, found));
  else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref') found.push(value as string);
      else collectRefs(value, found);
    }
  }
  return found;
}

/** Inlines local $refs (the API's components are not recursive) and drops $ids so Ajv sees one self-contained schema. */
function deref(doc: Json, node: Json): Json {
  if (Array.isArray(node)) return node.map((item) => deref(doc, item));
  if (!node || typeof node !== 'object') return node;
  const out: Json = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === '$id') continue;
    if (key === '$ref') Object.assign(out, deref(doc, resolvePointer(doc, value as string)));
    else out[key] = deref(doc, value);
  }
  return out;
}

/**
 * For the live check: every declared property must be present in the answer (fields with no value
 * are null, never missing), so a schema cannot promise a field the server does not send.
 */
function allRequired(node: Json, optional: ReadonlySet<string>): Json {
  if (Array.isArray(node)) return node.map((item) => allRequired(item, optional));
  if (!node || typeof node !== 'object') return node;
  const out: Json = {};
  for (const [key, value] of Object.entries(node)) out[key] = key === 'properties' ? Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, allRequired(v, optional)])) : allRequired(value, optional);
  if (node.properties) out.required = Object.keys(node.properties).filter((k) => !optional.has(k));
  return out;
}

function newAjv() {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addFormat('date-time', (value: string) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(value) && !Number.isNaN(Date.parse(value)));
  ajv.addFormat('binary', true);
  return ajv;
}

/**
 * The routes in fastify's own route tree (independent of the swagger plugin). The printed tree
 * drops the static part before a wildcard, so `/*` routes are left out here and checked with hasRoute.
 */
function registeredRoutes(tree: string): { method: string; url: string }[] {
  const routes: { method: string; url: string }[] = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const match = /^([│ ]*)[├└]── (\S*)(?: \(([^)]*)\))?/u.exec(line);
    if (!match) continue;
    const depth = [...match[1]!].length / 4;
    stack.length = depth;
    stack.push(match[2]!);
    if (match[3] && !stack.join('').includes('*')) for (const method of match[3].split(', ')) routes.push({ method, url: stack.join('') });
  }
  return routes;
}

/** Parameter names aside (the tree prints routes sharing a node as `:ref|:sha`): `/repos/{}/{}`. */
const shape = (url: string) => url.replace(/:[A-Za-z0-9_]+(\|:[A-Za-z0-9_]+)*|\{[^}]+\}/g, '{}');
/** `/{owner}/{name}/tree/{ref}/{*}` back to fastify's `/:owner/:name/tree/:ref/*`. */
const toFastifyPath = (path: string) => path.replace(/\{\*\}/g, '*').replace(/\{([^}]+)\}/g, ':$1');

t.test('the OpenAPI document and the API reference', async (t) => {
  const server = await startServer(t);
  const response = await fetch(`${server.url}/api/v1/openapi.json`);
  t.equal(response.status, 200);
  t.match(response.headers.get('content-type'), /^application\/json/);
  const doc: Json = await response.json();

  await t.test('is an OpenAPI 3.1 document', async (t) => {
    t.match(doc.openapi, /^3\.1\.\d+$/);
    t.equal(doc.info.title, 'mlgit REST API');
    t.match(doc.info.version, /^\d+\.\d+\.\d+/);
    t.type(doc.paths, 'object');
    t.same(Object.keys(doc.components.securitySchemes).sort(), ['basic', 'bearer']);
    for (const name of ['Error', 'Repo', 'User', 'Run']) t.type(doc.components.schemas[name], 'object', `component ${name}`);
    const refs = collectRefs(doc);
    t.ok(refs.length > 50, `uses shared components (${refs.length} $refs)`);
    const unresolved = [...new Set(refs)].filter((ref) => resolvePointer(doc, ref) === undefined);
    t.same(unresolved, [], 'every $ref resolves');
  });

  await t.test('documents every public REST route and hides the protocols', async (t) => {
    const routes = registeredRoutes(server.app.printRoutes({ commonPrefix: false }));
    t.ok(routes.some((r) => r.url.startsWith('/:owner/')), 'the route tree includes git routes (parsed correctly)');
    const isPublic = (url: string) => (url.startsWith('/api/v1/') && !url.startsWith('/api/v1/runner/') && url !== '/api/v1/openapi.json') || url === '/healthz' || url === '/readyz';
    const expected = routes.filter((r) => r.method !== 'HEAD' && isPublic(r.url)).map((r) => `${r.method.toLowerCase()} ${shape(r.url)}`);
    const operations = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops as object).filter((m) => METHODS.includes(m)).map((method) => ({ method, path })));
    t.ok(expected.length >= 35, `${expected.length} public operations without a wildcard`);
    const documented = new Set(operations.map((o) => `${o.method} ${shape(o.path)}`));
    t.same(expected.filter((op) => !documented.has(op)), [], 'every public route is documented');
    for (const { method, path } of operations) {
      t.ok(server.app.hasRoute({ method: method.toUpperCase() as 'GET', url: toFastifyPath(path) }), `${method.toUpperCase()} ${path} is a real route`);
    }
    for (const wildcard of ['/api/v1/repos/{owner}/{name}/blob/{ref}/{*}', '/api/v1/repos/{owner}/{name}/tree/{ref}/{*}', '/api/v1/repos/{owner}/{name}/runs/{id}/outputs/{*}']) {
      t.ok(doc.paths[wildcard]?.get, `${wildcard} is documented`);
    }

    for (const path of Object.keys(doc.paths)) {
      t.notOk(/^\/api\/v1\/runner\/|^\/internal\/|^\/api\/docs|\/info\/lfs|\/info\/refs|git-(upload|receive)-pack|openapi\.json/.test(path), `${path} is public API`);
    }
    for (const hidden of ['/api/v1/runner/runs/{id}/claim', '/api/v1/openapi.json', '/{owner}/{repo}/info/refs']) t.notOk(doc.paths[hidden], `${hidden} hidden`);
    t.ok(routes.some((r) => r.url.startsWith('/api/v1/runner/')) && routes.some((r) => r.url.startsWith('/internal/')), 'the hidden routes do exist');
  });

  await t.test('every operation has valid request and response schemas', async (t) => {
    const ajv = newAjv();
    for (const [path, ops] of Object.entries(doc.paths) as [string, Json][]) {
      for (const [method, op] of Object.entries(ops) as [string, Json][]) {
        const where = `${method.toUpperCase()} ${path}`;
        const codes = Object.keys(op.responses ?? {});
        const success = codes.filter((c) => /^2/.test(c));
        t.ok(success.length > 0, `${where}: a success response`);
        if (path.startsWith('/api/v1/')) t.ok(op.responses['4XX'] ?? op.responses['4xx'], `${where}: the error body`);
        for (const code of success) {
          const content = op.responses[code].content;
          if (code === '204') t.notOk(content, `${where} 204 has no body`);
          else t.ok(content && Object.values(content).every((c: Json) => c.schema), `${where} ${code}: a schema per media type`);
        }
        for (const [code, answer] of Object.entries(op.responses) as [string, Json][]) {
          for (const [type, { schema }] of Object.entries(answer.content ?? {}) as [string, Json][]) {
            t.doesNotThrow(() => ajv.compile(deref(doc, schema)), `${where} ${code} ${type}: valid JSON Schema`);
          }
        }
        for (const parameter of op.parameters ?? []) {
          t.ok(['path', 'query', 'header'].includes(parameter.in) && parameter.schema, `${where}: parameter ${parameter.name}`);
          if (parameter.in === 'path') t.ok(path.includes(`{${parameter.name}}`), `${where}: path parameter ${parameter.name} is in the path`);
        }
        for (const name of path.match(/\{([^}]+)\}/g) ?? []) {
          t.ok((op.parameters ?? []).some((p: Json) => p.in === 'path' && `{${p.name}}` === name), `${where}: ${name} is declared`);
        }
      }
    }
    const error = deref(doc, doc.components.schemas.Error);
    t.ok(ajv.validate(error, { error: { code: 'not_found', message: 'x' } }), 'the shared error body');
  });

  await t.test('the request schemas are the ones that validate', async (t) => {
    const login = doc.paths['/api/v1/auth/login'].post.requestBody.content['application/json'].schema;
    t.same(login.required, ['username', 'password']);
    const bad = await server.api('POST', '/api/v1/auth/login', { body: { username: 12345, password: 'x' } });
    t.equal(bad.status, 422, 'the documented type is enforced');
    t.equal(bad.body.error.code, 'invalid');
    const hookParams = doc.paths['/api/v1/repos/{owner}/{name}/hooks/{id}'].get.parameters.find((p: Json) => p.name === 'id');
    t.equal(hookParams.schema.pattern, '^[1-9][0-9]{0,9}$');
  });

  await t.test('live answers match their declared schemas', async (t) => {
    const alice = await server.user('alice', ['read', 'write', 'admin']);
    const bob = await server.user('bob');
    const admin = `${server.admin.username}:${server.admin.password}`;
    const git = await GitClient.create(t);
    t.equal((await server.api('POST', '/api/v1/repos', { auth: alice.token, body: { name: 'proj', description: 'a project' } })).status, 201);
    const work = await git.workRepo('proj', [{ 'README.md': '# proj\n', 'src/train.py': 'print(1)\n' }]);
    await git.ok(['push', '-q', server.gitUrl('alice', 'proj', alice.tokenBasic), 'main'], { cwd: work });
    const sha = (await git.ok(['rev-parse', 'HEAD'], { cwd: work })).trim();
    const repo = '/api/v1/repos/alice/proj';
    t.equal((await server.api('PUT', `${repo}/collaborators/${bob.username}`, { auth: alice.token, body: { role: 'read' } })).status, 204);

    // [method, path as documented, request path, body, auth]
    const cases: [string, string, string, unknown, string | undefined][] = [
      ['get', '/healthz', '/healthz', undefined, undefined],
      ['get', '/api/v1/user', '/api/v1/user', undefined, alice.token],
      ['get', '/api/v1/user/tokens', '/api/v1/user/tokens', undefined, alice.token],
      ['post', '/api/v1/user/tokens', '/api/v1/user/tokens', { name: 'ci', scopes: ['read'] }, alice.token],
      ['post', '/api/v1/auth/login', '/api/v1/auth/login', { username: alice.username, password: alice.password }, undefined],
      ['post', '/api/v1/repos', '/api/v1/repos', { name: 'second', kind: 'dataset' }, alice.token],
      ['get', '/api/v1/repos', '/api/v1/repos?q=proj', undefined, alice.token],
      ['get', '/api/v1/repos/{owner}/{name}', repo, undefined, alice.token],
      ['patch', '/api/v1/repos/{owner}/{name}', repo, { description: 'changed' }, alice.token],
      ['get', '/api/v1/repos/{owner}/{name}/pushes', `${repo}/pushes`, undefined, alice.token],
      ['get', '/api/v1/repos/{owner}/{name}/collaborators', `${repo}/collaborators`, undefined, alice.token],
      ['get', '/api/v1/repos/{owner}/{name}/refs', `${repo}/refs`, undefined, alice.token],
      ['get', '/api/v1/repos/{owner}/{name}/commits', `${repo}/commits`, undefined, alice.token],
      ['get', '/api/v1/repos/{owner}/{name}/tree/{ref}', `${repo}/tree/main`, undefined, alice.token],
      ['get', '/api/v1/repos/{owner}/{name}/tree/{ref}/{*}', `${repo}/tree/main/src`, undefined, alice.token],
      ['post', '/api/v1/repos/{owner}/{name}/statuses/{sha}', `${repo}/statuses/${sha}`, { state: 'success', context: 'ci', metrics: { accuracy: 0.9 } }, alice.token],
      ['get', '/api/v1/repos/{owner}/{name}/commits/{ref}/status', `${repo}/commits/main/status`, undefined, alice.token],
      ['get', '/api/v1/repos/{owner}/{name}/commits/{sha}/metrics', `${repo}/commits/main/metrics`, undefined, alice.token],
      ['get', '/api/v1/repos/{owner}/{name}/runs', `${repo}/runs`, undefined, alice.token],
      ['get', '/api/v1/repos/{owner}/{name}/lfs/objects', `${repo}/lfs/objects`, undefined, alice.token],
      ['get', '/api/v1/users/{username}/storage', '/api/v1/users/alice/storage', undefined, alice.token],
      ['get', '/api/v1/admin/audit', '/api/v1/admin/audit', undefined, admin],
      ['get', '/api/v1/repos/{owner}/{name}', '/api/v1/repos/alice/missing', undefined, alice.token],
      ['post', '/api/v1/repos', '/api/v1/repos', { name: 12 }, alice.token],
    ];
    // Fields that are absent by design when they have no value.
    const optional = new Set(['threshold']);
    const ajv = newAjv();
    for (const [method, documented, requestPath, body, auth] of cases) {
      const where = `${method.toUpperCase()} ${requestPath}`;
      const answer = await server.api(method.toUpperCase(), requestPath, { auth, body });
      const responses = doc.paths[documented]?.[method]?.responses;
      if (!t.ok(responses, `${where} is documented as ${documented}`)) continue;
      const declared = responses[String(answer.status)] ?? responses[`${String(answer.status)[0]}XX`];
      if (!t.ok(declared, `${where}: status ${answer.status} is declared`)) continue;
      const schema = declared.content?.['application/json']?.schema;
      if (!t.ok(schema, `${where}: a JSON schema for ${answer.status}`)) continue;
      const validate = ajv.compile(allRequired(deref(doc, schema), optional));
      t.ok(validate(answer.body), `${where} -> ${answer.status} matches`, { errors: validate.errors, body: answer.body });
      if (Array.isArray(answer.body)) t.ok(answer.body.length > 0 || ['/api/v1/repos/{owner}/{name}/runs'].includes(documented), `${where}: a non-empty list to check`);
    }
    const notFound = await server.api('GET', '/api/v1/repos/alice/missing', { auth: alice.token });
    t.equal(notFound.status, 404, 'error answers are among the checked');
  });

  await t.test('the reference page loads only local assets', async (t) => {
    const page = await fetch(`${server.url}/api/docs`);
    t.equal(page.status, 200);
    t.match(page.headers.get('content-type'), /^text\/html/);
    const csp = page.headers.get('content-security-policy') ?? '';
    t.match(csp, /default-src 'self'/);
    t.notMatch(csp, /https?:|upgrade-insecure-requests/, 'CSP allows nothing off the server');
    const html = await page.text();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    t.ok(assets.length >= 4, `${assets.length} assets`);
    for (const asset of assets) {
      t.notMatch(asset, /^(?:[a-z]+:)?\/\//i, `${asset} is local`);
      const loaded = await fetch(new URL(asset, `${server.url}/api/docs`));
      t.equal(loaded.status, 200, `${asset} is served`);
      await loaded.arrayBuffer();
    }
    const init = await (await fetch(`${server.url}/api/docs/static/swagger-initializer.js`)).text();
    t.notMatch(init, /['"`]https?:\/\//, 'the initializer loads no remote URL');
    t.match(init, /resolveUrl\('\.\/json'\)/, 'it loads the document from the server');
    const fromUi = await (await fetch(`${server.url}/api/docs/json`)).json();
    t.same(fromUi, doc, 'the page shows the same document');
  });

  await t.test('the document is built once', async (t) => {
    const again = await (await fetch(`${server.url}/api/v1/openapi.json`)).text();
    t.equal(again, JSON.stringify(doc), 'byte-identical on every request');
  });
});
