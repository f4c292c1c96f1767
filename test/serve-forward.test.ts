// The proxy hop alone (server/http/serve/forward.ts), against a model server on a unix socket that
// this test controls byte by byte: small answers and errors are read whole, a large answer that
// declares its length streams through (the client has its first half before the model sends the
// second, and the replica stays leased until the last byte), caps on the answer's size, and a
// model stalling in the middle of a streamed answer.
import t, { type Test } from 'tap';
import Fastify from 'fastify';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { forward } from '../server/http/serve/forward.ts';

const MAX_RESPONSE = 1024 * 1024;
const BIG = Buffer.alloc(256 * 1024, 'b');

interface Leases {
  taken: number;
  released: number;
}

async function setup(t: Test) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mlgit-forward-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const socketPath = path.join(dir, 'm.sock');
  /** Called by /big between its halves; the test decides when the second half goes. */
  let secondHalf: () => void = () => {};
  const halfway = new Promise<void>((resolve) => (secondHalf = resolve));
  const model = http.createServer((request, response) => {
    if (request.url === '/small') return void response.writeHead(200, { 'content-type': 'application/json', 'set-cookie': 'a=b' }).end('{"ok":true}');
    if (request.url === '/text-error') return void response.writeHead(500, { 'content-type': 'text/plain' }).end('Traceback: broke');
    if (request.url === '/declared-huge') return void response.writeHead(200, { 'content-length': String(MAX_RESPONSE + 1) }).write('x');
    if (request.url === '/chunked-huge') {
      response.writeHead(200, { 'content-type': 'application/octet-stream' });
      for (let i = 0; i < 5; i += 1) response.write(Buffer.alloc(MAX_RESPONSE / 4));
      return void response.end();
    }
    if (request.url === '/big' || request.url === '/big-stalls') {
      response.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(BIG.length) });
      response.write(BIG.subarray(0, BIG.length / 2));
      if (request.url === '/big') void halfway.then(() => response.end(BIG.subarray(BIG.length / 2)));
      return;
    }
    response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => model.listen(socketPath, resolve));
  t.teardown(() => {
    model.closeAllConnections();
    model.close();
  });
  const leases: Leases = { taken: 0, released: 0 };
  const app = Fastify();
  app.get('/m/*', (request, reply) => {
    leases.taken += 1;
    let released = false;
    const lease = {
      replicaId: 1,
      socketPath,
      version: 7,
      coldStartMs: null,
      release: () => {
        if (!released) leases.released += 1;
        released = true;
      },
    };
    return forward(request, reply, lease, request.url.slice(2), { timeoutMs: 1500, maxResponseBytes: MAX_RESPONSE }, null);
  });
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => app.close());
  return { base, leases, secondHalf };
}

interface Got {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The connection closed before the whole answer came. */
  aborted: boolean;
}

function get(url: string): Promise<Got> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        const done = (aborted: boolean) => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks), aborted });
        response.on('end', () => done(false));
        response.on('error', () => done(true));
        response.on('aborted', () => done(true));
      })
      .on('error', reject);
  });
}

t.test('a small answer is read whole and carries mlgit\'s headers, never the model\'s cookie', async (t) => {
  const { base, leases } = await setup(t);
  const answer = await get(`${base}/m/small`);
  t.equal(answer.status, 200);
  t.equal(answer.body.toString(), '{"ok":true}');
  t.equal(answer.headers['content-length'], '11');
  t.equal(answer.headers['x-mlgit-model-version'], '7');
  t.equal(answer.headers['content-security-policy'], "sandbox; default-src 'none'");
  t.equal(answer.headers['set-cookie'], undefined);
  t.same(leases, { taken: 1, released: 1 });
});

t.test('a model error in plain text becomes JSON with the model\'s status', async (t) => {
  const { base } = await setup(t);
  const answer = await get(`${base}/m/text-error`);
  t.equal(answer.status, 500);
  t.same(JSON.parse(answer.body.toString()), { error: { code: 'model_error', message: 'Traceback: broke', model_status: 500 } });
});

t.test('a large answer with a Content-Length streams, and holds its replica until its last byte', async (t) => {
  const { base, leases, secondHalf } = await setup(t);
  const pending = new Promise<Got>((resolve, reject) => {
    // The first half reaches the client while the model still holds the second.
    http
      .get(`${base}/m/big`, { agent: false }, (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        let asked = false;
        response.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          size += chunk.length;
          if (!asked && size >= BIG.length / 2) {
            asked = true;
            t.same(leases, { taken: 1, released: 0 }, 'still leased in the middle of the answer');
            secondHalf();
          }
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks), aborted: false }));
      })
      .on('error', reject);
  });
  const answer = await pending;
  t.equal(answer.status, 200);
  t.equal(answer.headers['content-length'], String(BIG.length));
  t.equal(answer.headers['x-mlgit-model-version'], '7');
  t.ok(answer.body.equals(BIG), 'byte-identical');
  await new Promise((resolve) => setImmediate(resolve));
  t.same(leases, { taken: 1, released: 1 }, 'released once the answer is through');
});

t.test('answers over the cap get 502, declared or not', async (t) => {
  const { base, leases } = await setup(t);
  for (const route of ['declared-huge', 'chunked-huge']) {
    const answer = await get(`${base}/m/${route}`);
    t.equal(answer.status, 502, route);
    t.match(JSON.parse(answer.body.toString()), { error: { code: 'model_answer_too_large' } }, route);
  }
  t.same(leases, { taken: 2, released: 2 });
});

t.test('a model stalling in the middle of a streamed answer: the client\'s connection closes at the deadline', async (t) => {
  const { base, leases } = await setup(t);
  const started = Date.now();
  const answer = await get(`${base}/m/big-stalls`);
  t.equal(answer.status, 200, 'the status was sent before the stall');
  t.ok(answer.aborted, 'the answer is cut, not completed');
  t.ok(answer.body.length < BIG.length);
  t.ok(Date.now() - started >= 1400, 'at the deadline');
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.same(leases, { taken: 1, released: 1 });
});
