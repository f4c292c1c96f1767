// Serving through mlgit on the process runtime (bubblewrap sandbox), with a stdlib model server
// (test/helpers/serving.ts): deploy, infer, the deploy request's checks, access rules of every new
// route, and hostile requests (oversized bodies, slowloris, path traversal in the pass-through, a
// model that never answers, a model error in plain text) that get clean 4xx/5xx while mlgit keeps
// serving. Inside the sandbox there is no network and the model file is read-only.
import t from 'tap';
import http from 'node:http';
import net from 'node:net';
import { eventually } from './helpers/runs.ts';
import { predictorRepo } from './helpers/serving.ts';

const DEPLOY = { timeoutMs: 3000, maxBodyBytes: 64 * 1024, maxResponseBytes: 1024 * 1024, startTimeoutMs: 60_000, idleStopMs: null };
const ROUTES = {
  list: '/api/v1/repos/alice/clf/deployments',
  one: '/api/v1/repos/alice/clf/deployments/clf',
  logs: '/api/v1/repos/alice/clf/deployments/clf/logs',
  meta: '/serve/alice/clf/v2/models/clf',
  ready: '/serve/alice/clf/v2/models/clf/ready',
  infer: '/serve/alice/clf/v2/models/clf/infer',
  pass: '/serve/alice/clf/clf/echo/a?b=1',
};

t.test('serving: deploy, infer, access and hostile requests', async (t) => {
  const { server, alice, deploy, untilReady } = await predictorRepo(t, DEPLOY);
  const bob = await server.user('bob');
  const api = server.api;

  await t.test('bad deploy requests get 422 naming each problem', async (t) => {
    const cases: { body: unknown; status: number; error: RegExp }[] = [
      { body: { model: 'clf' }, status: 422, error: /command or port is required/ },
      { body: { model: 'clf', image: 'x' }, status: 422, error: /command or port is required/ },
      { body: { model: 'clf', port: 8080 }, status: 422, error: /an image's own entrypoint \(no command\) needs the docker runtime/ },
      { body: { model: 'clf', command: 'x', port: 0 }, status: 422, error: /port must be a TCP port, 1 to 65535/ },
      { body: { model: 'clf', command: 'x', port: 65536 }, status: 422, error: /port must be a TCP port/ },
      { body: { model: 'clf', command: 'x', port: '8080' }, status: 422, error: /port must be a TCP port/ },
      { body: { command: 'x' }, status: 422, error: /model is required/ },
      { body: { model: 'Bad Name', command: 'x' }, status: 422, error: /model name must be/ },
      { body: { model: 'clf', command: 'x', alias: 'UP' }, status: 422, error: /alias must be/ },
      { body: { model: 'clf', command: 'x', replicas: 5 }, status: 422, error: /replicas may be at most 4 on this server \(MLGIT_DEPLOY_MAX_REPLICAS\)/ },
      { body: { model: 'clf', command: 'x', replicas: 0 }, status: 422, error: /replicas must be a whole number of at least 1/ },
      { body: { model: 'clf', command: 'x', replicas: 1.5 }, status: 422, error: /replicas must be a whole number of at least 1/ },
      { body: { model: 'clf', command: 'x', replicas: '2' }, status: 422, error: /replicas must be a whole number of at least 1/ },
      { body: { model: 'clf', command: 'x', resources: { cpu: -1, memory: 'lots' } }, status: 422, error: /resources.cpu must be a positive number; resources.memory must be a quantity/ },
      { body: { model: 'clf', command: 'x', resources: { cpu: 64 } }, status: 422, error: /resources.cpu may be at most/ },
      { body: { model: 'clf', command: 'x', env: { MLP_MODEL_PATH: '/etc/passwd', 'bad name': 'v' } }, status: 422, error: /env MLP_MODEL_PATH is set by mlgit; env name "bad name" is not a variable name/ },
      { body: { model: 'clf', command: 'x', health_path: '/../x' }, status: 422, error: /health_path must be an absolute path/ },
      { body: { model: 'clf', command: 'x', image: 'bad image!' }, status: 422, error: /image must be an image reference/ },
      { body: { model: 'clf', command: 'x', extra: 1 }, status: 422, error: /unknown field "extra"/ },
      { body: { model: 'clf', command: 'x', public: 'yes' }, status: 422, error: /public must be true or false/ },
      { body: { model: 'clf', command: 'x', alias: 'production' }, status: 404, error: /alias not found/ },
      { body: { model: 'nope', command: 'x' }, status: 404, error: /not found/ },
      { body: [1], status: 422, error: /expected a JSON object/ },
    ];
    for (const c of cases) {
      const response = await api('POST', ROUTES.list, { auth: alice.basic, body: c.body });
      t.equal(response.status, c.status, JSON.stringify(c.body));
      t.match(response.body?.error?.message, c.error, JSON.stringify(c.body));
    }
    t.same((await api('GET', ROUTES.list, { auth: alice.basic })).body, [], 'no deployment was made');
  });

  const created = await deploy({});
  t.equal(created.status, 202, JSON.stringify(created.body));
  t.match(await untilReady(), { state: 'ready', version: 1, alias: 'latest', restarts: 0 });
  t.equal((await deploy({})).status, 409, 'one deployment per model');

  await t.test('inference and metadata through mlgit', async (t) => {
    const infer = await api('POST', ROUTES.infer, { auth: alice.tokenBasic, body: { inputs: [] } });
    t.equal(infer.status, 200, JSON.stringify(infer.body));
    t.match(infer.body, { model_name: 'clf', model_version: '1', outputs: [{ data: [13] }] });
    t.equal(infer.headers.get('x-mlgit-model-version'), '1');
    t.equal(infer.headers.get('x-mlgit-cold-start-ms'), null, 'a running deployment is no cold start');
    t.match((await api('GET', ROUTES.meta, { auth: alice.tokenBasic })).body, { name: 'clf', versions: ['1'], model_bytes: 300_000 });
    t.equal((await api('GET', ROUTES.ready, { auth: alice.tokenBasic })).status, 200);
    const echo = await api('GET', ROUTES.pass, { auth: alice.tokenBasic, headers: { cookie: 'session=secret', 'x-custom': 'kept' } });
    t.equal(echo.status, 200);
    t.equal(echo.body.path, '/echo/a?b=1', 'the pass-through path and query reach the model as sent');
    t.notOk(echo.body.headers.authorization, 'the caller\'s credentials never reach the model');
    t.notOk(echo.body.headers.cookie);
    t.equal(echo.body.headers['x-custom'], 'kept');
    t.equal(echo.headers.get('content-security-policy'), "sandbox; default-src 'none'", 'model content cannot script mlgit\'s origin');
    const logs = await api('GET', ROUTES.logs, { auth: alice.basic });
    t.match(logs.body, /predictor version 1 listening/);
    t.match(logs.body, /version 1 is ready/);
  });

  await t.test('the sandbox: no network, the model file read-only', async (t) => {
    const network = await api('GET', '/serve/alice/clf/clf/try-network', { auth: alice.tokenBasic });
    t.equal(network.body.network, false, JSON.stringify(network.body));
    const write = await api('GET', '/serve/alice/clf/clf/try-write-model', { auth: alice.tokenBasic });
    t.equal(write.body.wrote, false, JSON.stringify(write.body));
    t.match(write.body.error, /Read-only file system|Permission denied/);
  });

  await t.test('hostile requests get clean errors and mlgit keeps serving', async (t) => {
    const auth = `Basic ${Buffer.from(alice.tokenBasic).toString('base64')}`;
    const rawCases: { name: string; path: string; method?: string; body?: Buffer; chunked?: boolean; status: number; code: RegExp }[] = [
      { name: 'oversized body (Content-Length)', path: ROUTES.infer, method: 'POST', body: Buffer.alloc(200 * 1024, 'a'), status: 413, code: /too_large/ },
      { name: 'oversized body (chunked)', path: ROUTES.infer, method: 'POST', body: Buffer.alloc(200 * 1024, 'a'), chunked: true, status: 413, code: /too_large/ },
      { name: 'dot-dot in the pass-through', path: '/serve/alice/clf/clf/../../../api/v1/user', status: 400, code: /bad_request/ },
      { name: 'encoded dot-dot', path: '/serve/alice/clf/clf/%2e%2e/%2E%2E/x', status: 400, code: /bad_request/ },
      { name: 'encoded slash', path: '/serve/alice/clf/clf/a%2F..%2Fb', status: 400, code: /bad_request/ },
      { name: 'encoded backslash', path: '/serve/alice/clf/clf/..%5c..%5cx', status: 400, code: /bad_request/ },
      { name: 'bad percent-encoding', path: '/serve/alice/clf/clf/%zz', status: 400, code: /bad_request/ },
      { name: 'a model that never answers', path: '/serve/alice/clf/clf/hang', status: 504, code: /model_timeout/ },
      { name: 'a model error in plain text', path: '/serve/alice/clf/clf/text-error', status: 500, code: /model_error/ },
      { name: 'a model error in JSON keeps its body', path: '/serve/alice/clf/clf/json-error', status: 418, code: /a teapot/ },
      { name: 'a model that is not deployed', path: '/serve/alice/clf/v2/models/other/infer', method: 'POST', body: Buffer.from('{}'), status: 404, code: /not_found/ },
    ];
    for (const c of rawCases) {
      const answer = await rawRequest(server.port, c.method ?? 'GET', c.path, auth, c.body, c.chunked ?? false);
      t.equal(answer.status, c.status, `${c.name}: ${answer.body}`);
      t.match(answer.body, c.code, c.name);
      if (c.status >= 400) t.doesNotThrow(() => JSON.parse(answer.body), `${c.name}: the answer is JSON`);
    }
    const textError = JSON.parse((await rawRequest(server.port, 'GET', '/serve/alice/clf/clf/text-error', auth)).body);
    t.match(textError.error, { code: 'model_error', model_status: 500, message: /Traceback: something broke/ });

    const slow = await slowloris(server.port, ROUTES.infer, auth);
    t.equal(slow.status, 408, `slowloris: ${slow.body}`);
    t.match(slow.body, /request_timeout/);

    t.equal((await api('POST', ROUTES.infer, { auth: alice.tokenBasic, body: { inputs: [] } })).status, 200, 'the model still answers through mlgit');
    t.equal((await api('GET', '/api/v1/repos/alice/clf', { auth: alice.basic })).status, 200, 'and mlgit\'s API too');
  });

  await t.test('access matrix of every deployment and serving route', async (t) => {
    const who = { anonymous: undefined, bob: bob.tokenBasic, alice: alice.tokenBasic } as const;
    const check = async (label: string, expected: Record<keyof typeof who, Record<string, number>>) => {
      for (const [name, auth] of Object.entries(who) as [keyof typeof who, string | undefined][]) {
        for (const [route, status] of Object.entries(expected[name])) {
          const path = ROUTES[route as keyof typeof ROUTES];
          const method = route === 'infer' ? 'POST' : 'GET';
          const response = await api(method, path, { auth, body: method === 'POST' ? { inputs: [] } : undefined });
          t.equal(response.status, status, `${label}: ${name} ${method} ${path} -> ${JSON.stringify(response.body).slice(0, 200)}`);
        }
      }
    };
    const all = (status: number) => ({ list: status, one: status, logs: status, meta: status, ready: status, infer: status, pass: status });
    const readsOpen = { list: 200, one: 200, logs: 200 };
    await check('public repo, deployment not public', { anonymous: { ...readsOpen, meta: 401, ready: 401, infer: 401, pass: 401 }, bob: all(200), alice: all(200) });
    for (const [auth, status] of [[undefined, 401], [bob.tokenBasic, 403]] as const) {
      t.equal((await api('POST', ROUTES.list, { auth, body: { model: 'clf', command: 'x' } })).status, status, 'create needs write access');
      t.equal((await api('DELETE', ROUTES.one, { auth })).status, status, 'remove needs write access');
    }
    t.equal((await api('DELETE', ROUTES.one, { auth: alice.basic })).status, 200, 'the owner removes it');
    t.equal((await api('GET', ROUTES.one, { auth: alice.basic })).status, 404);
    t.equal((await api('POST', ROUTES.infer, { auth: alice.tokenBasic, body: {} })).status, 404, 'nothing serves a removed deployment');

    t.equal((await deploy({ public: true })).status, 202);
    await untilReady();
    await check('public repo, public deployment', { anonymous: all(200), bob: all(200), alice: all(200) });

    t.equal((await api('PATCH', '/api/v1/repos/alice/clf', { auth: alice.basic, body: { private: true } })).status, 200);
    // The proxy keeps an access answer for a second (server/domain/deployments/access-cache.ts).
    for (const [auth, status] of [[undefined, 401], [bob.tokenBasic, 404]] as const) {
      await eventually(async () => (await api('GET', ROUTES.meta, { auth })).status, (got) => got === status, 'the proxy applies the private repository\'s rules', 10_000);
    }
    await check('private repo (its deployment was made public)', { anonymous: all(401), bob: all(404), alice: all(200) });
    t.equal((await api('DELETE', ROUTES.one, { auth: bob.tokenBasic })).status, 404, 'a stranger cannot see a private repo\'s deployment');
    t.equal((await api('DELETE', ROUTES.one, { auth: alice.basic })).status, 200);
    const refused = await deploy({ public: true });
    t.equal(refused.status, 422);
    t.match(refused.body.error.message, /public deployments need a public repository/);
  });
});

/** One request on a raw socket path (fetch would normalise dot segments away). */
function rawRequest(port: number, method: string, path: string, auth: string, body?: Buffer, chunked = false): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { authorization: auth };
    if (body) {
      headers['content-type'] = 'application/json';
      if (chunked) headers['transfer-encoding'] = 'chunked';
      else headers['content-length'] = body.length;
    }
    const request = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (c: Buffer) => chunks.push(c));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    // The server may answer 413 and close before the whole body is sent.
    request.on('error', (error: NodeJS.ErrnoException) => (error.code === 'EPIPE' || error.code === 'ECONNRESET' ? undefined : reject(error)));
    request.end(body);
  });
}

/** Sends the headers and one byte of a 100-byte body, then nothing: the answer is what mlgit says. */
function slowloris(port: number, path: string, auth: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{`);
    });
    let text = '';
    socket.on('data', (c: Buffer) => (text += c.toString()));
    socket.on('close', () => {
      const status = Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0);
      resolve({ status, body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    });
    socket.on('error', reject);
  });
}
