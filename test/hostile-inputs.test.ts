// Table-driven hostile inputs over raw HTTP (protocols.md, "Git smart HTTP": names resolved from
// the database, never from URL text; 415 for wrong content types; capped gunzip; dumb HTTP is a
// clear 4xx). After every case the server must still serve, and no git process may be left behind.
import t, { type Test } from 'tap';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { sanitizeGitProtocol } from '../server/http/git/git-protocol.ts';
import { GitClient } from './helpers/git-client.ts';
import { gitProcesses } from './helpers/git-processes.ts';
import { startServer, type TestServer } from './helpers/server.ts';

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * One request written byte for byte on a fresh socket (fetch and node:http normalise or refuse
 * paths such as `/a/../b`, raw spaces or non-ASCII), then the whole response until the server closes.
 */
function rawRequest(port: number, head: string, body: Buffer = Buffer.alloc(0)): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let failure: Error | null = null;
    socket.setTimeout(15_000, () => socket.destroy(new Error(`no response to ${head.split('\r\n')[0]}`)));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    // A server that answers early and closes may reset our write: what it answered still counts.
    socket.on('error', (err) => (failure = err));
    socket.on('close', () => {
      try {
        resolve(parseResponse(Buffer.concat(chunks)));
      } catch (err) {
        reject(failure ?? err);
      }
    });
    const contentLength = body.length > 0 || /^(POST|PUT|PATCH)/.test(head) ? `Content-Length: ${body.length}\r\n` : '';
    socket.write(Buffer.concat([Buffer.from(`${head}\r\nHost: 127.0.0.1\r\nConnection: close\r\n${contentLength}\r\n`, 'latin1'), body]));
  });
}

function parseResponse(data: Buffer): RawResponse {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) throw new Error(`incomplete response: ${JSON.stringify(data.toString('latin1').slice(0, 200))}`);
  const [statusLine = '', ...lines] = data.subarray(0, end).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = data.subarray(end + 4);
  if (headers['transfer-encoding'] === 'chunked') {
    const parts: Buffer[] = [];
    let offset = 0;
    for (;;) {
      const lineEnd = body.indexOf('\r\n', offset);
      const size = parseInt(body.subarray(offset, lineEnd).toString('latin1'), 16);
      if (!size) break;
      parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
      offset = lineEnd + 2 + size + 2;
    }
    body = Buffer.concat(parts);
  } else if (headers['content-length'] !== undefined) {
    body = body.subarray(0, Number(headers['content-length']));
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body };
}

function basic(auth: string): string {
  return `Basic ${Buffer.from(auth).toString('base64')}`;
}

/** Asserts `{error:{code,message}}` and nothing else; `code` may be omitted to accept any. */
function assertErrorBody(t: Test, body: Buffer | string | unknown, code: string | undefined, what: string) {
  let parsed: any = body;
  if (Buffer.isBuffer(body) || typeof body === 'string') {
    try {
      parsed = JSON.parse(body.toString());
    } catch {
      t.fail(`${what}: body is not JSON: ${JSON.stringify(body.toString().slice(0, 200))}`);
      return;
    }
  }
  t.same(Object.keys(parsed ?? {}), ['error'], `${what}: body is {error}`);
  t.same(Object.keys(parsed?.error ?? {}).sort(), ['code', 'message'], `${what}: error is {code,message}`);
  if (code !== undefined) t.equal(parsed?.error?.code, code, `${what}: error code`);
  t.type(parsed?.error?.message, 'string', `${what}: error message`);
}

/** The server still answers, and every git process it spawned has gone (they are killed asynchronously). */
async function assertServing(t: Test, server: TestServer, what: string) {
  const health = await fetch(`${server.url}/healthz`);
  t.equal(health.status, 200, `${what}: /healthz still 200`);
  t.same(await health.json(), { status: 'ok' }, `${what}: /healthz body`);
  let left: string[] = [];
  for (let i = 0; i < 40; i++) {
    left = await gitProcesses(server.dataDir);
    if (left.length === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  t.same(left, [], `${what}: no git process left running`);
}

/** Deterministic "random" bytes (mulberry32), so a failure can be replayed. */
function pseudoRandomBytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let a = seed;
  for (let i = 0; i < length; i++) {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    out[i] = ((x ^ (x >>> 14)) >>> 0) & 0xff;
  }
  return out;
}

/** `size` bytes of zeros, gzipped lazily as the server pulls: a bomb of ~1 KiB per MiB inflated. */
function gzipBomb(size: number): { stream: ReadableStream; compressedBytes: () => number } {
  // Concatenated gzip members (valid gzip, RFC 1952) of 1 MiB of zeros each: ~1 KiB per MiB,
  // produced without CPU, so the client sends as fast as the server reads and the test
  // measures the server, not how fast this process can deflate a gigabyte on a busy machine.
  const member = gzipSync(Buffer.alloc(1024 * 1024));
  const batch = Buffer.concat(Array.from({ length: 64 }, () => member));
  let compressed = 0;
  async function* members() {
    for (let inflated = 0; inflated < size; inflated += 64 * 1024 * 1024) {
      compressed += batch.length;
      yield batch;
    }
  }
  return { stream: Readable.toWeb(Readable.from(members(), { objectMode: false })) as ReadableStream, compressedBytes: () => compressed };
}

t.test('hostile inputs', async (t) => {
  // Open sign-up: hostile user names must reach validation, not stop at "sign-up is closed".
  const server = await startServer(t, { config: { signup: 'open' } });
  const git = await GitClient.create(t);
  const [alice, bob] = await Promise.all([server.user('alice'), server.user('bob')]);
  for (const [user, name, isPrivate] of [
    [alice!, 'model', false],
    [bob!, 'secret', true],
  ] as const) {
    t.equal((await server.api('POST', '/api/v1/repos', { auth: user.basic, body: { name, private: isPrivate } })).status, 201, `create ${user.username}/${name}`);
    const work = await git.workRepo(`seed-${name}`, [{ 'README.md': `# ${name}\n` }]);
    await git.ok(['push', '-q', server.gitUrl(user.username, name, user.tokenBasic), 'main'], { cwd: work });
  }
  const aliceAuth = basic(alice!.tokenBasic);

  await t.test('repository paths that try to escape or confuse the name lookup', async (t) => {
    const long = 'a'.repeat(300);
    // [what, raw path prefix (before /info/refs etc.), credentials, status, error code or undefined]
    const cases: [string, string, string | null, number, string | undefined][] = [
      ['.. as repo', '/alice/..', null, 404, 'not_found'],
      ['.. as owner', '/../model.git', null, 404, 'not_found'],
      ['%2e%2e as repo', '/alice/%2e%2e', null, 404, 'not_found'],
      ['%2E%2E as owner', '/%2E%2E/model.git', aliceAuth, 404, 'not_found'],
      ['%2e%2e%2f into another owner', '/alice/%2e%2e%2fbob%2fsecret.git', aliceAuth, 404, 'not_found'],
      ['..%2f.. to another repo', '/alice/model%2f..%2f..%2fbob%2fsecret', aliceAuth, 404, 'not_found'],
      ['%2f inside the owner', '/alice%2fbob/secret.git', aliceAuth, 404, 'not_found'],
      ['%2f absolute path', '/alice/%2fetc%2fpasswd', null, 404, 'not_found'],
      ['%5c backslash', '/alice/..%5cbob%5csecret', aliceAuth, 404, 'not_found'],
      ['raw backslash', '/alice/model\\..\\..\\bob', aliceAuth, 404, 'not_found'],
      ['%00 after the name', '/alice/model%00.git', null, 404, 'not_found'],
      ['%00 before .git', '/alice/model.git%00', aliceAuth, 404, 'not_found'],
      ['%00 in the owner', '/alice%00/model.git', null, 404, 'not_found'],
      ['100-character name that does not exist', `/alice/${'a'.repeat(100)}`, aliceAuth, 404, 'not_found'],
      ['%20 space', '/alice/mo%20del', null, 404, 'not_found'],
      ['leading space', '/alice/%20model', null, 404, 'not_found'],
      ['%-encoded unicode', '/alice/mod%C3%A9l', null, 404, 'not_found'],
      ['unicode lookalike owner', '/%D0%B0lice/model.git', null, 404, 'not_found'],
      ['.git.git', '/alice/model.git.git', null, 404, 'not_found'],
      ['.git owner', '/alice.git/model.git', null, 404, 'not_found'],
      ['bare .git', '/alice/.git', null, 404, 'not_found'],
      ['option-like name', '/alice/--upload-pack=touch%20x', aliceAuth, 404, 'not_found'],
      ['leading dash', '/alice/-model', null, 404, 'not_found'],
      ['empty owner', '//model.git', null, 404, 'not_found'],
      // Another user's repo name under your own owner: it is not there, and says nothing about bob/secret.
      ["bob's repo name under alice, as alice", '/alice/secret.git', aliceAuth, 404, 'not_found'],
      ["bob's repo name under alice, anonymous", '/alice/secret.git', null, 401, 'unauthenticated'],
      ["bob's private repo, as alice", '/bob/secret.git', aliceAuth, 404, 'not_found'],
      ['101-character name', `/alice/${'a'.repeat(101)}`, null, 404, 'not_found'],
      ['300-character name', `/alice/${long}`, null, 404, 'not_found'],
      ['300-character owner', `/${long}/model.git`, aliceAuth, 404, 'not_found'],
      ['300-character name + .git', `/alice/${long}.git`, null, 404, 'not_found'],
      // Rejected by the router or the HTTP parser before any route runs.
      ['bad %-escape', '/alice/%zz', null, 400, 'bad_request'],
      ['raw space', '/alice/mo del', null, 400, undefined],
      ['raw unicode', '/alice/mod\u00e9l', null, 400, undefined],
    ];
    const endpoints: [string, (prefix: string) => string, Buffer | undefined][] = [
      ['GET info/refs upload-pack', (p) => `GET ${p}/info/refs?service=git-upload-pack HTTP/1.1`, undefined],
      ['GET info/refs receive-pack', (p) => `GET ${p}/info/refs?service=git-receive-pack HTTP/1.1`, undefined],
      ['POST git-upload-pack', (p) => `POST ${p}/git-upload-pack HTTP/1.1\r\nContent-Type: application/x-git-upload-pack-request`, Buffer.from('0000')],
      ['POST git-receive-pack', (p) => `POST ${p}/git-receive-pack HTTP/1.1\r\nContent-Type: application/x-git-receive-pack-request`, Buffer.from('0000')],
    ];
    for (const [what, prefix, auth, status, code] of cases) {
      for (const [endpoint, request, body] of endpoints) {
        const head = request(prefix) + (auth ? `\r\nAuthorization: ${auth}` : '');
        const response = await rawRequest(server.port, head, body);
        t.equal(response.status, status, `${what}, ${endpoint}: status`);
        if (code !== undefined) {
          assertErrorBody(t, response.body, code, `${what}, ${endpoint}`);
          t.equal(response.headers['www-authenticate'], status === 401 ? 'Basic realm="mlgit"' : undefined, `${what}, ${endpoint}: challenge only on 401`);
        } else {
          // Node's HTTP parser refuses the request line; mlgit's clientErrorHandler answers.
          t.match(response.headers['content-type'] ?? '', /application\/json/, `${what}, ${endpoint}: JSON`);
          t.same(Object.keys(JSON.parse(response.body.toString())), ['error'], `${what}, ${endpoint}: body is {error:{code,message}}`);
        }
      }
      await assertServing(t, server, what);
    }
  });

  await t.test('names shaped like the on-disk layout (repos/<bucket>/<id>.git) are just names', async (t) => {
    // alice/model is repo id 1, stored at repos/01/1.git: the URL can only name it as alice/model.
    for (const name of ['repos', '01', '1.git', '1']) {
      const response = await rawRequest(server.port, `GET /alice/${name}/info/refs?service=git-upload-pack HTTP/1.1\r\nAuthorization: ${aliceAuth}`);
      t.equal(response.status, 404, `/alice/${name}`);
      assertErrorBody(t, response.body, 'not_found', `/alice/${name}`);
    }
    await assertServing(t, server, 'layout names');
  });

  await t.test('wrong Content-Type on the POST endpoints -> 415', async (t) => {
    const types: (string | null)[] = [
      null,
      'text/plain',
      'application/json',
      'application/octet-stream',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/x-git-upload-pack-requestx',
      'application/x-git-upload-pack-advertisement',
      'application/x-git-receive-pack-result',
    ];
    for (const service of ['git-upload-pack', 'git-receive-pack'] as const) {
      const other = service === 'git-upload-pack' ? 'git-receive-pack' : 'git-upload-pack';
      for (const type of [...types, `application/x-${other}-request`]) {
        const head = `POST /alice/model.git/${service} HTTP/1.1\r\nAuthorization: ${aliceAuth}${type === null ? '' : `\r\nContent-Type: ${type}`}`;
        const response = await rawRequest(server.port, head, Buffer.from(type === 'application/json' ? '{"a":1}' : '0000'));
        t.equal(response.status, 415, `${service} with ${type}: status`);
        assertErrorBody(t, response.body, 'unsupported_media_type', `${service} with ${type}`);
      }
      // The right type with parameters is fine: the `0000` probe is answered 200.
      const probe = await rawRequest(server.port, `POST /alice/model.git/${service} HTTP/1.1\r\nAuthorization: ${aliceAuth}\r\nContent-Type: application/x-${service}-request; charset=binary`, Buffer.from('0000'));
      t.equal(probe.status, 200, `${service}: right type with a parameter`);
      t.equal(probe.headers['content-type'], `application/x-${service}-result`);
      t.equal(probe.body.length, 0, `${service}: the probe gets an empty answer`);
      // An encoding the server does not speak is refused, not passed to git as garbage.
      const brotli = await rawRequest(server.port, `POST /alice/model.git/${service} HTTP/1.1\r\nAuthorization: ${aliceAuth}\r\nContent-Type: application/x-${service}-request\r\nContent-Encoding: br`, Buffer.from('0000'));
      t.equal(brotli.status, 415, `${service}: Content-Encoding br`);
      assertErrorBody(t, brotli.body, 'unsupported_media_type', `${service}: Content-Encoding br`);
      await assertServing(t, server, `${service} content types`);
    }
  });

  await t.test('gzip bombs: 1 GiB of zeros, gzipped, streamed', async (t) => {
    const cases: [string, number, string][] = [
      // upload-pack bodies are read whole before git runs, capped at 10 MiB inflated.
      ['git-upload-pack', 413, 'too_large'],
      // receive-pack streams into git, which refuses NUL bytes as pkt-line lengths at once.
      ['git-receive-pack', 400, 'bad_git_request'],
    ];
    for (const [service, status, code] of cases) {
      const bomb = gzipBomb(1024 * 1024 * 1024);
      // The server (in this process) must never inflate the bomb: memory stays flat. (How many
      // compressed bytes the client got to send depends on scheduling and on the bounded drain
      // of unread bodies before early answers, so it is reported, not asserted.)
      const rssBefore = process.memoryUsage().rss;
      let rssPeak = rssBefore;
      const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 20);
      sampler.unref();
      t.teardown(() => clearInterval(sampler));
      const started = Date.now();
      const response = await fetch(`${server.url}/alice/model.git/${service}`, {
        method: 'POST',
        headers: { authorization: aliceAuth, 'content-type': `application/x-${service}-request`, 'content-encoding': 'gzip' },
        body: bomb.stream,
        duplex: 'half',
      } as RequestInit);
      t.equal(response.status, status, `${service}: status`);
      assertErrorBody(t, await response.text(), code, service);
      t.equal(response.headers.get('connection'), 'close', `${service}: the connection with the unread rest of the body is closed`);
      clearInterval(sampler);
      const grewMb = (rssPeak - rssBefore) / 2 ** 20;
      t.ok(grewMb < 128, `${service}: nothing was inflated beyond the cap: memory grew ${grewMb.toFixed(1)} MB (${bomb.compressedBytes()} compressed bytes sent)`);
      t.ok(Date.now() - started < 10_000, `${service}: answered in ${Date.now() - started} ms`);
      await assertServing(t, server, `${service} gzip bomb`);
    }
    const notGzip = await rawRequest(
      server.port,
      `POST /alice/model.git/git-upload-pack HTTP/1.1\r\nAuthorization: ${aliceAuth}\r\nContent-Type: application/x-git-upload-pack-request\r\nContent-Encoding: gzip`,
      Buffer.from('0000 this is not gzip'),
    );
    t.equal(notGzip.status, 400, 'a body that is not gzip: status');
    assertErrorBody(t, notGzip.body, 'bad_git_request', 'not gzip');
    await assertServing(t, server, 'not gzip');
  });

  await t.test('malformed pkt-lines -> 400 bad_git_request from both services', async (t) => {
    const bodies: [string, Buffer][] = [
      ['zzzz', Buffer.from('zzzz')],
      ['0003 (length below 4)', Buffer.from('0003')],
      ['truncated length 000', Buffer.from('000')],
      ['truncated length 0', Buffer.from('0')],
      ['length past the end', Buffer.from('0009ab')],
      ['ffff with a short line', Buffer.from('ffffwant')],
      ['empty pkt-line, no flush', Buffer.from('0004')],
      ['empty body', Buffer.alloc(0)],
      ['uppercase hex length', Buffer.from('000Awant\n0000')],
      ['PACK without commands', Buffer.concat([Buffer.from('PACK'), Buffer.alloc(16)])],
      ['NUL bytes', Buffer.alloc(64)],
      ['64 KiB pseudo-random bytes', pseudoRandomBytes(64 * 1024, 20240601)],
      ['v2 command without Git-Protocol', Buffer.from('0014command=ls-refs\n0000')],
      ['a maximal line of nonsense', Buffer.concat([Buffer.from('fff0'), Buffer.alloc(0xfff0 - 4, 'a'), Buffer.from('0000')])],
    ];
    for (const service of ['git-upload-pack', 'git-receive-pack'] as const) {
      for (const [what, body] of bodies) {
        const response = await rawRequest(server.port, `POST /alice/model.git/${service} HTTP/1.1\r\nAuthorization: ${aliceAuth}\r\nContent-Type: application/x-${service}-request`, body);
        t.equal(response.status, 400, `${service}, ${what}: status`);
        assertErrorBody(t, response.body, 'bad_git_request', `${service}, ${what}`);
        t.match(JSON.parse(response.body.toString()).error?.message ?? '', /^malformed git request: /, `${service}, ${what}: says why`);
      }
      // Special packets alone end the (empty) request: git answers nothing, as for the `0000`
      // probe git sends before a large push (protocols.md: answer it 200).
      for (const packet of ['0000', '0001']) {
        const response = await rawRequest(server.port, `POST /alice/model.git/${service} HTTP/1.1\r\nAuthorization: ${aliceAuth}\r\nContent-Type: application/x-${service}-request`, Buffer.from(packet));
        t.equal(response.status, 200, `${service}, ${packet} alone: status`);
        t.equal(response.headers['content-type'], `application/x-${service}-result`, `${service}, ${packet} alone: content type`);
        t.equal(response.body.length, 0, `${service}, ${packet} alone: empty answer`);
      }
      await assertServing(t, server, `${service} malformed pkt-lines`);
    }
  });

  await t.test('dumb HTTP and other files of the bare repo -> 4xx, never file contents', async (t) => {
    const cases: [string, string, number, string][] = [
      ['GET', '/alice/model.git/info/refs', 403, 'dumb_http_unsupported'],
      ['GET', '/alice/model/info/refs', 403, 'dumb_http_unsupported'],
      ['GET', '/alice/model.git/info/refs?service=git-upload-archive', 403, 'dumb_http_unsupported'],
      ['GET', '/alice/model.git/info/refs?service=--upload-pack=sh', 403, 'dumb_http_unsupported'],
      ['GET', '/alice/model.git/HEAD', 404, 'not_found'],
      ['GET', '/alice/model.git/config', 404, 'not_found'],
      ['GET', '/alice/model.git/description', 404, 'not_found'],
      ['GET', '/alice/model.git/objects/..', 404, 'not_found'],
      ['GET', '/alice/model.git/objects/%2e%2e/config', 404, 'not_found'],
      ['GET', '/alice/model.git/objects/info/packs', 404, 'not_found'],
      ['GET', '/alice/model.git/objects/info/alternates', 404, 'not_found'],
      ['GET', '/alice/model.git/hooks/pre-receive', 404, 'not_found'],
      ['GET', '/alice/model.git/refs/heads/main', 404, 'not_found'],
      ['GET', '/alice/model.git/packed-refs', 404, 'not_found'],
      ['GET', '/alice/model.git/git-upload-pack', 404, 'not_found'],
      ['POST', '/alice/model.git/git-upload-archive', 404, 'not_found'],
      ['PROPFIND', '/alice/model.git/', 404, 'not_found'],
      ['MKCOL', '/alice/model.git/refs/heads/x/', 404, 'not_found'],
      ['PUT', '/alice/model.git/refs/heads/main', 404, 'not_found'],
    ];
    for (const [method, url, status, code] of cases) {
      const response = await rawRequest(server.port, `${method} ${url} HTTP/1.1\r\nAuthorization: ${aliceAuth}`);
      t.equal(response.status, status, `${method} ${url}: status`);
      assertErrorBody(t, response.body, code, `${method} ${url}`);
      t.notMatch(response.body.toString('latin1'), /ref: refs\/heads|\[core\]|^[0-9a-f]{40}/m, `${method} ${url}: no repository content`);
    }
    await assertServing(t, server, 'dumb HTTP');
  });

  await t.test('Git-Protocol: only key=value entries reach git; option-like strings are dropped', async (t) => {
    const sanitized: [string | string[] | undefined, string | null][] = [
      ['version=2', 'version=2'],
      ['version=2:object-format=sha1', 'version=2:object-format=sha1'],
      ['version=2:--upload-pack=/bin/sh', 'version=2'],
      ['--upload-pack=touch /tmp/x', null],
      ['-c core.sshCommand=evil', null],
      ['-c:version=2', 'version=2'],
      ['.version=2', null],
      ['version=2 --exec=/bin/sh', null],
      ['version=2\nfoo=bar', null],
      ['version=2\0--foo', null],
      ['version=$(id)', null],
      ['version=2;rm -rf /', null],
      [`version=2:${'k'.repeat(600)}`, null],
      [['version=2', '--exec=x'], 'version=2'],
      ['', null],
      [undefined, null],
    ];
    for (const [header, expected] of sanitized) t.equal(sanitizeGitProtocol(header), expected, `sanitize ${JSON.stringify(header)}`);

    const advertise = async (header: string) => {
      const response = await fetch(`${server.url}/alice/model.git/info/refs?service=git-upload-pack`, { headers: { 'git-protocol': header } });
      return { status: response.status, body: await response.text() };
    };
    const v2 = await advertise('version=2:--upload-pack=/bin/false:-c=core.sshCommand');
    t.equal(v2.status, 200);
    t.match(v2.body, /^000eversion 2\n/, 'the valid entry still selects protocol v2');
    const v0 = await advertise('--upload-pack=/bin/false');
    t.equal(v0.status, 200);
    t.match(v0.body, /^001e# service=git-upload-pack\n0000/, 'an option-only header is ignored: protocol v0');

    const marker = path.join(git.home, 'pwned');
    for (const version of ['2', '0']) {
      const dir = path.join(git.home, `protocol-clone-v${version}`);
      const clone = await git.run(['-c', `protocol.version=${version}`, '-c', `http.extraHeader=Git-Protocol: --upload-pack=touch ${marker}:-c core.fsmonitor=touch ${marker}`, 'clone', '-q', server.gitUrl('alice', 'model'), dir]);
      t.equal(clone.code, 0, `clone with a hostile Git-Protocol header over v${version}: ${clone.stderr}`);
      t.equal(await fs.readFile(path.join(dir, 'README.md'), 'utf8'), '# model\n');
    }
    t.equal(await fs.access(marker).then(() => true, () => false), false, 'nothing ran the injected command');
    await assertServing(t, server, 'Git-Protocol');
  });

  await t.test('REST API: hostile user and repo names -> 422, malformed JSON -> 400', async (t) => {
    const names: [string, unknown][] = [
      ['..', '..'],
      ['../x', '../x'],
      ['%2e%2e', '%2e%2e'],
      ['a/b', 'alice/b'],
      ['backslash', 'a\\b'],
      ['NUL', 'a\u0000b'],
      ['300 characters', 'a'.repeat(300)],
      ['space', 'a b'],
      ['leading space', ' ab'],
      ['newline', 'ab\n'],
      ['unicode', 'modél'],
      ['unicode lookalike', '\u0430lice'],
      ['.git', '.git'],
      ['x.git', 'x.git'],
      ['.git.git', 'x.git.git'],
      ['leading dash', '-x'],
      ['option-like', '--upload-pack=sh'],
      ['leading dot', '.x'],
      ['empty', ''],
      ['a..b', 'a..b'],
      ['null', null],
      ['object', { name: 'x' }],
    ];
    const userCount = async () => Number((await server.services.db.selectFrom('users').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    const reposBefore = (await server.api('GET', '/api/v1/repos?owner=alice', { auth: alice!.basic })).body.length;
    const usersBefore = await userCount();
    for (const [what, name] of names) {
      const user = await server.api('POST', '/api/v1/users', { body: { username: name, password: 'long-enough-password' } });
      t.equal(user.status, 422, `user ${what}: status`);
      assertErrorBody(t, user.body, 'invalid', `user ${what}`);
      const repo = await server.api('POST', '/api/v1/repos', { auth: alice!.basic, body: { name } });
      t.equal(repo.status, 422, `repo ${what}: status`);
      assertErrorBody(t, repo.body, 'invalid', `repo ${what}`);
    }
    const reserved = await server.api('POST', '/api/v1/users', { body: { username: 'api', password: 'long-enough-password' } });
    t.equal(reserved.status, 422, 'reserved username');
    assertErrorBody(t, reserved.body, 'invalid', 'reserved username');
    t.equal(await userCount(), usersBefore, 'no user was created');
    t.equal((await server.api('GET', '/api/v1/repos?owner=alice', { auth: alice!.basic })).body.length, reposBefore, 'no repo was created');

    // JSON that is not JSON: 400 before any handler runs.
    const malformed: [string, string][] = [
      ['truncated object', '{"username": "x",'],
      ['bare word', 'nope'],
      ['single quotes', "{'name': 'x'}"],
      ['trailing comma', '{"name": "x",}'],
      ['NUL byte', '\u0000'],
      ['empty body', ''],
      ['__proto__ key', '{"__proto__": {"is_admin": true}, "username": "proto", "password": "long-enough-password"}'],
    ];
    const targets: [string, string, string | undefined][] = [
      ['POST', '/api/v1/users', undefined],
      ['POST', '/api/v1/repos', alice!.basic],
      ['PATCH', '/api/v1/repos/alice/model', alice!.basic],
      ['PUT', '/api/v1/repos/alice/model/collaborators/bob', alice!.basic],
      ['POST', '/api/v1/user/tokens', alice!.basic],
    ];
    for (const [what, body] of malformed) {
      for (const [method, url, auth] of targets) {
        const response = await server.api(method, url, { auth, body, headers: { 'content-type': 'application/json' } });
        t.equal(response.status, 400, `${method} ${url} with ${what}: status`);
        assertErrorBody(t, response.body, 'bad_request', `${method} ${url} with ${what}`);
      }
    }
    t.equal(await userCount(), usersBefore, 'still no new user');

    // Type confusion: Fastify's default Ajv coerces these to strings and the user gets created.
    for (const [what, name] of [
      ['number', 12345],
      ['boolean', true],
      ['array', ['coerced']],
    ] as const) {
      const response = await server.api('POST', '/api/v1/users', { body: { username: name, password: 'long-enough-password' } });
      t.equal(response.status, 422, `user name as ${what}`);
    }
    await assertServing(t, server, 'REST API');
  });

  await t.test('the longest valid name works, with and without .git', async (t) => {
    const name = 'n'.repeat(100);
    const created = await server.api('POST', '/api/v1/repos', { auth: alice!.basic, body: { name } });
    t.equal(created.status, 201, 'a 100-character repo name is valid');
    const plain = await rawRequest(server.port, `GET /alice/${name}/info/refs?service=git-upload-pack HTTP/1.1`);
    t.equal(plain.status, 200, 'its URL without .git works');
    const withGit = await rawRequest(server.port, `GET /alice/${name}.git/info/refs?service=git-upload-pack HTTP/1.1`);
    t.equal(withGit.status, 200, 'its URL with .git works too (the router allows params longer than 100)');
    t.equal((await server.api('DELETE', `/api/v1/repos/alice/${name}`, { auth: alice!.basic })).status, 204);
  });

  await t.test('after all of it, the real git client still works', async (t) => {
    const remote = await git.run(['ls-remote', server.gitUrl('alice', 'model')]);
    t.equal(remote.code, 0, remote.stderr);
    t.match(remote.stdout, /^[0-9a-f]{40}\tHEAD\n[0-9a-f]{40}\trefs\/heads\/main\n$/);
    const secret = await git.run(['ls-remote', server.gitUrl('bob', 'secret', bob!.tokenBasic)]);
    t.equal(secret.code, 0, secret.stderr);
    t.match(secret.stdout, /refs\/heads\/main/);
    const dir = path.join(git.home, 'final-clone');
    const clone = await git.run(['clone', '-q', server.gitUrl('alice', 'model', alice!.tokenBasic), dir]);
    t.equal(clone.code, 0, clone.stderr);
    await git.commit(dir, { 'after.txt': 'still fine\n' }, 'after the storm');
    const push = await git.run(['push', '-q', 'origin', 'main'], { cwd: dir });
    t.equal(push.code, 0, push.stderr);
    await assertServing(t, server, 'end');
  });
});
