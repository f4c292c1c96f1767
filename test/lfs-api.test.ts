// Protocol-level tests of the Git LFS HTTP API (git-lfs docs/api: batch.md, basic-transfers.md,
// locking.md) over a real socket, without the git-lfs client: hostile inputs, table-driven, each
// with its exact status, the LFS media type and error body, and proof that nothing was stored.
import t, { type Test } from 'tap';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { parseRange } from '../lfs/range.ts';
import { Readable } from 'node:stream';
import { ActionTokens, type TransferOperation } from '../server/domain/action-tokens.ts';
import type { DomainError } from '../server/domain/errors.ts';
import { LfsService } from '../server/domain/lfs.ts';
import type { ObjectStore } from '../server/domain/ports.ts';
import { startServer } from './helpers/server.ts';

const LFS = 'application/vnd.git-lfs+json';
const DOCS = 'https://github.com/git-lfs/git-lfs/tree/main/docs/api';
const GiB = 1024 ** 3;

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
const basic = (credentials: string): string => `Basic ${Buffer.from(credentials).toString('base64')}`;
const mediaType = (headers: Headers): string => (headers.get('content-type') ?? '').split(';')[0]!.trim();

interface Reply {
  status: number;
  body: any;
  bytes: Buffer;
  headers: Headers;
}

interface CallOptions {
  method?: string;
  /** "user:secret" sent as Basic. */
  auth?: string;
  /** JSON-encoded unless it is already a string or a Buffer. */
  body?: unknown;
  headers?: Record<string, string>;
}

/** One HTTP exchange; LFS JSON media type for JSON bodies unless the caller overrides it. */
async function call(url: string, options: CallOptions = {}): Promise<Reply> {
  const headers: Record<string, string> = { accept: LFS, ...options.headers };
  if (options.auth) headers.authorization = basic(options.auth);
  let body: string | Uint8Array<ArrayBuffer> | undefined;
  if (options.body !== undefined) {
    if (Buffer.isBuffer(options.body)) body = new Uint8Array(options.body);
    else {
      headers['content-type'] ??= LFS;
      body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    }
  }
  const response = await fetch(url, { method: options.method ?? (body === undefined ? 'GET' : 'POST'), headers, body });
  const bytes = Buffer.from(await response.arrayBuffer());
  let parsed: unknown = null;
  if (bytes.length > 0 && mediaType(response.headers) === LFS) parsed = JSON.parse(bytes.toString('utf8'));
  return { status: response.status, body: parsed, bytes, headers: response.headers };
}

/** A whole-request LFS error: exact status, LFS media type, `{message, request_id, documentation_url}`. */
function isLfsError(t: Test, reply: Reply, status: number, message?: RegExp): void {
  t.equal(reply.status, status, `status ${status}: ${reply.bytes.toString('utf8').slice(0, 300)}`);
  t.equal(mediaType(reply.headers), LFS, 'LFS media type');
  t.same(Object.keys(reply.body ?? {}).sort(), ['documentation_url', 'message', 'request_id'], 'LFS error body');
  t.type(reply.body?.message, 'string');
  t.ok(reply.body?.message?.length > 0, 'message is not empty');
  t.equal(reply.body?.request_id, reply.headers.get('x-request-id'), 'request_id matches X-Request-Id');
  t.equal(reply.body?.documentation_url, DOCS);
  if (message) t.match(reply.body?.message, message);
  t.notMatch(reply.body?.message ?? '', /password|secret|stack|at .*\.ts:/i, 'no internals in the message');
}

/** One object with a per-object error inside a 200 batch. */
function isObjectError(t: Test, reply: Reply, code: number, oid: string): void {
  t.equal(reply.status, 200, `batch is 200: ${reply.bytes.toString('utf8').slice(0, 300)}`);
  t.equal(mediaType(reply.headers), LFS);
  t.equal(reply.body?.objects?.length, 1);
  const object = reply.body?.objects?.[0];
  t.equal(object?.oid, oid, 'oid echoed');
  t.equal(object?.error?.code, code, `per-object ${code}`);
  t.type(object?.error?.message, 'string');
  t.notOk(object?.actions, 'no actions');
}

const OID_RE = /^[0-9a-f]{64}$/;

t.test('parseRange', async (t) => {
  const size5G = 5 * GiB;
  const cases: [string | undefined, number, ReturnType<typeof parseRange>][] = [
    [undefined, 10, null],
    ['', 10, null],
    ['bytes=0-0', 10, { start: 0, end: 0 }],
    ['bytes=5-', 10, { start: 5, end: 9 }],
    ['bytes=-3', 10, { start: 7, end: 9 }],
    ['bytes=-10', 10, { start: 0, end: 9 }],
    ['bytes=-20', 10, { start: 0, end: 9 }],
    ['bytes=0-99', 10, { start: 0, end: 9 }],
    ['bytes=9-9', 10, { start: 9, end: 9 }],
    [' bytes=1-2 ', 10, { start: 1, end: 2 }],
    ['bytes=007-', 10, { start: 7, end: 9 }],
    ['bytes=10-', 10, 'unsatisfiable'],
    ['bytes=10-20', 10, 'unsatisfiable'],
    ['bytes=5-3', 10, 'unsatisfiable'],
    ['bytes=-0', 10, 'unsatisfiable'],
    ['bytes=0-0', 0, 'unsatisfiable'],
    ['bytes=0-', 0, 'unsatisfiable'],
    ['bytes=-3', 0, 'unsatisfiable'],
    ['bytes=99999999999999999999-', 10, 'unsatisfiable'],
    ['bytes=-', 10, null],
    ['bytes=0-1,3-4', 10, null],
    ['items=0-1', 10, null],
    ['bytes=abc-', 10, null],
    ['bytes=1.5-2', 10, null],
    ['bytes=-1-2', 10, null],
    ['bytes 0-1', 10, null],
    // Offsets above 2 GiB and 4 GiB: no 32-bit truncation anywhere.
    ['bytes=3221225472-', size5G, { start: 3221225472, end: size5G - 1 }],
    ['bytes=4294967296-4294967305', size5G, { start: 4294967296, end: 4294967305 }],
    ['bytes=2147483648-2147483648', size5G, { start: 2 * GiB, end: 2 * GiB }],
    ['bytes=-1', size5G, { start: size5G - 1, end: size5G - 1 }],
    ['bytes=-4294967296', size5G, { start: GiB, end: size5G - 1 }],
    ['bytes=0-99999999999999999999', size5G, { start: 0, end: size5G - 1 }],
    [`bytes=${size5G}-`, size5G, 'unsatisfiable'],
  ];
  for (const [header, size, expected] of cases) t.same(parseRange(header, size), expected, `${JSON.stringify(header)} of ${size}`);
});

t.test('Git LFS HTTP API', async (t) => {
  const server = await startServer(t, {
    config: { lfs: { maxObjectBytes: 1000, actionTtlSeconds: 900, maxBatchObjects: 1000 }, authFailures: { max: 10_000, windowSeconds: 300 } },
  });
  const full = ['read', 'write', 'admin'];
  const [alice, bob, carol] = await Promise.all([server.user('alice', full), server.user('bob'), server.user('carol')]);
  const readOnly = await server.api('POST', '/api/v1/user/tokens', { auth: alice.token, body: { name: 'ro', scopes: ['read'] } });
  t.equal(readOnly.status, 201);
  const aliceRead = `alice:${readOnly.body.token as string}`;

  const repoIds: Record<string, number> = {};
  const createRepo = async (auth: string, name: string, isPrivate: boolean) => {
    const created = await server.api('POST', '/api/v1/repos', { auth, body: { name, private: isPrivate } });
    t.equal(created.status, 201, `create ${name}`);
    repoIds[`${created.body.owner as string}/${name}`] = created.body.id as number;
  };
  await createRepo(alice.token, 'models', false);
  await createRepo(alice.token, 'private-models', true);
  await createRepo(alice.token, 'other', false);
  await createRepo(carol.token, 'mine', false);
  for (const repo of ['models', 'private-models', 'other']) {
    const added = await server.api('PUT', `/api/v1/repos/alice/${repo}/collaborators/bob`, { auth: alice.token, body: { role: 'write' } });
    t.equal(added.status, 204, `bob writes to alice/${repo}`);
  }

  const lfsUrl = (repo: string) => `${server.url}/${repo}.git/info/lfs`;
  const batch = (repo: string, body: unknown, auth?: string, headers?: Record<string, string>) =>
    call(`${lfsUrl(repo)}/objects/batch`, { auth, body, headers });
  const upload = (oid: string, size: number) => ({ operation: 'upload', transfers: ['basic'], objects: [{ oid, size }], hash_algo: 'sha256' });
  const download = (oid: string, size: number) => ({ operation: 'download', transfers: ['basic'], objects: [{ oid, size }] });
  const action = (reply: Reply, name: string) => {
    const found = reply.body?.objects?.[0]?.actions?.[name];
    if (!found) throw new Error(`no ${name} action in ${reply.bytes.toString('utf8')}`);
    return found as { href: string; header: Record<string, string>; expires_in: number };
  };

  const db = server.services.db;
  const objectRows = async () => (await db.selectFrom('lfs_objects').select('oid').execute()).map((r) => r.oid).sort();
  const repoLinks = async (oid: string) => (await db.selectFrom('lfs_repo_objects').select('repo_id').where('oid', '=', oid).execute()).map((r) => r.repo_id).sort();
  const tempFiles = async () => (await fs.readdir(path.join(server.dataDir, 'lfs', 'tmp')).catch(() => [] as string[])).length;

  /** Nothing of `oid` is visible: no store object, no DB row, no link, no left-over temp file. */
  async function nothingStored(t: Test, oid: unknown, rowsBefore?: string[]): Promise<void> {
    const text = typeof oid === 'string' ? oid : String(oid);
    t.same(await db.selectFrom('lfs_objects').select('oid').where('oid', '=', text).execute(), [], 'no lfs_objects row');
    t.same(await repoLinks(text), [], 'no lfs_repo_objects row');
    if (OID_RE.test(text)) t.equal(await server.services.store.stat(text), null, 'not in the store');
    else await t.rejects(server.services.store.stat(text), 'the store refuses the oid itself');
    if (rowsBefore) t.same(await objectRows(), rowsBefore, 'lfs_objects unchanged');
    t.equal(await tempFiles(), 0, 'no temp files left');
  }

  const secret = (await fs.readFile(path.join(server.dataDir, 'jwt-secret'), 'utf8')).trim();
  const forge = (op: TransferOperation, repo: string, oid: string, size: number, now = Date.now(), ttl = 900) =>
    `RemoteAuth ${new ActionTokens(secret, ttl).sign({ op, repoId: repoIds[repo]!, oid, size }, now)}`;

  // Payloads with every byte value, under the 1000-byte limit.
  const content = Buffer.concat([Buffer.from('model weights v1\n'), Buffer.from(Array.from({ length: 256 }, (_, i) => i)), Buffer.from('<html>\n')]);
  const oid = sha256(content);
  const size = content.length;
  const other = Buffer.from('another object that nobody uploads\n');
  const otherOid = sha256(other);

  await t.test('batch: invalid objects get a per-object 422 inside a 200', async (t) => {
    const before = await objectRows();
    const badOids: [string, unknown][] = [
      ['uppercase', oid.toUpperCase()],
      ['63 chars', oid.slice(0, 63)],
      ['65 chars', `${oid}a`],
      ['path traversal', '../../etc/passwd'],
      ['traversal padded to 64', `../../${'a'.repeat(58)}`],
      ['percent-encoded dots', '%2e%2e%2f%2e%2e%2fetc%2fpasswd'],
      ['empty', ''],
      ['number', 12345],
      ['null', null],
      ['trailing newline', `${oid}\n`],
      ['non-hex letters', 'g'.repeat(64)],
      ['sha1 length', 'a'.repeat(40)],
    ];
    for (const operation of ['upload', 'download']) {
      for (const [label, badOid] of badOids) {
        await t.test(`${operation}: oid ${label}`, async (t) => {
          const reply = await batch('alice/models', { operation, objects: [{ oid: badOid, size: 10 }] }, alice.tokenBasic);
          isObjectError(t, reply, 422, typeof badOid === 'string' ? badOid : String(badOid));
          await nothingStored(t, badOid, before);
        });
      }
    }
    const badSizes: [string, unknown][] = [
      ['negative', -1],
      ['fractional', 1.5],
      ['string', '10'],
      ['null', null],
      ['missing', undefined],
      ['beyond 2^53', 2 ** 60],
      ['boolean', true],
    ];
    for (const [label, badSize] of badSizes) {
      await t.test(`upload: size ${label}`, async (t) => {
        const reply = await batch('alice/models', upload(oid, badSize as number), alice.tokenBasic);
        isObjectError(t, reply, 422, oid);
        await nothingStored(t, oid, before);
      });
    }

    await t.test('one bad object does not spoil the others', async (t) => {
      const reply = await batch('alice/models', { operation: 'upload', objects: [{ oid: '../x', size: 1 }, { oid, size }] }, alice.tokenBasic);
      t.equal(reply.status, 200);
      t.equal(reply.body.objects[0].error.code, 422);
      t.ok(reply.body.objects[1].actions.upload, 'the good object gets an upload action');
      t.notOk(reply.body.objects[1].error);
      await nothingStored(t, oid, before);
    });

    await t.test('objects that are not objects', async (t) => {
      const reply = await batch('alice/models', { operation: 'upload', objects: [null, 'x', 7, []] }, alice.tokenBasic);
      t.equal(reply.status, 200);
      t.same(reply.body.objects.map((o: any) => o.error?.code), [422, 422, 422, 422]);
      t.same(await objectRows(), before);
    });
  });

  await t.test('batch: whole-request errors', async (t) => {
    const before = await objectRows();
    const tooMany = { operation: 'upload', objects: Array.from({ length: 1001 }, (_, i) => ({ oid: sha256(Buffer.from(String(i))), size: 1 })) };
    const cases: { label: string; repo?: string; body: unknown; auth?: string; headers?: Record<string, string>; status: number; message?: RegExp }[] = [
      { label: 'size above the configured max', body: upload(oid, 1001), status: 413, message: /1001 bytes.*up to 1000 bytes/ },
      { label: 'huge size', body: upload(oid, 2 ** 52), status: 413, message: /up to 1000 bytes/ },
      { label: 'more than maxBatchObjects objects', body: tooMany, status: 413, message: /1000 objects/ },
      { label: 'malformed JSON', body: '{"operation": "upload", "objects": [', status: 422, message: /JSON/ },
      { label: 'JSON null', body: 'null', status: 422 },
      { label: 'JSON string', body: '"upload"', status: 422 },
      { label: 'JSON array', body: '[]', status: 422 },
      { label: 'Content-Type text/plain', body: JSON.stringify(upload(oid, size)), headers: { 'content-type': 'text/plain' }, status: 415, message: new RegExp(LFS.replace(/[.+]/g, '\\$&')) },
      { label: 'Content-Type form', body: JSON.stringify(upload(oid, size)), headers: { 'content-type': 'application/x-www-form-urlencoded' }, status: 415 },
      { label: 'Content-Type octet-stream', body: JSON.stringify(upload(oid, size)), headers: { 'content-type': 'application/octet-stream' }, status: 415 },
      { label: 'unknown operation', body: { operation: 'delete', objects: [{ oid, size }] }, status: 422, message: /operation/ },
      { label: 'missing operation', body: { objects: [{ oid, size }] }, status: 422, message: /operation/ },
      { label: 'hash_algo sha1', body: { ...upload(oid, size), hash_algo: 'sha1' }, status: 409, message: /sha1/ },
      { label: 'unsupported transfer adapter only', body: { ...upload(oid, size), transfers: ['tus'] }, status: 422, message: /basic/ },
      { label: 'objects not a list', body: { operation: 'upload', objects: { oid, size } }, status: 422, message: /objects/ },
      { label: 'anonymous on a private repo', repo: 'alice/private-models', body: download(oid, size), auth: '', status: 401 },
      { label: 'anonymous upload on a public repo', body: upload(oid, size), auth: '', status: 401 },
      { label: 'anonymous on a missing repo', repo: 'alice/nope', body: download(oid, size), auth: '', status: 401 },
      { label: 'wrong password', body: download(oid, size), auth: 'alice:wrong', status: 401 },
      { label: 'read-only token uploads', body: upload(oid, size), auth: aliceRead, status: 403 },
      { label: 'read-only token uploads to a private repo', repo: 'alice/private-models', body: upload(oid, size), auth: aliceRead, status: 403 },
      { label: 'outsider on a private repo (download)', repo: 'alice/private-models', body: download(oid, size), auth: carol.tokenBasic, status: 404 },
      { label: 'outsider on a private repo (upload)', repo: 'alice/private-models', body: upload(oid, size), auth: carol.tokenBasic, status: 404 },
      { label: 'outsider uploads to a public repo', body: upload(oid, size), auth: carol.tokenBasic, status: 403 },
      { label: 'signed-in, missing repo', repo: 'alice/nope', body: download(oid, size), auth: carol.tokenBasic, status: 404 },
    ];
    for (const c of cases) {
      await t.test(c.label, async (t) => {
        const reply = await batch(c.repo ?? 'alice/models', c.body, c.auth === undefined ? alice.tokenBasic : c.auth || undefined, c.headers);
        isLfsError(t, reply, c.status, c.message);
        if (c.status === 401) {
          t.equal(reply.headers.get('lfs-authenticate'), 'Basic realm="mlgit"', 'LFS-Authenticate');
        }
        await nothingStored(t, oid, before);
      });
    }

    await t.test('no Content-Type at all', async (t) => {
      const response = await fetch(`${lfsUrl('alice/models')}/objects/batch`, {
        method: 'POST',
        headers: { authorization: basic(alice.tokenBasic) },
        body: new Blob([JSON.stringify(upload(oid, size))]),
      });
      const bytes = Buffer.from(await response.arrayBuffer());
      const reply = { status: response.status, headers: response.headers, bytes, body: JSON.parse(bytes.toString('utf8')) };
      isLfsError(t, reply, 415);
      await nothingStored(t, oid, before);
    });

    await t.test('the same through the URL without .git', async (t) => {
      const reply = await call(`${server.url}/alice/private-models/info/lfs/objects/batch`, { body: download(oid, size) });
      isLfsError(t, reply, 401);
      t.equal(reply.headers.get('lfs-authenticate'), 'Basic realm="mlgit"');
    });

    await t.test('download of an object the repo does not have: per-object 404', async (t) => {
      isObjectError(t, await batch('alice/models', download(otherOid, other.length), alice.tokenBasic), 404, otherOid);
      isObjectError(t, await batch('alice/models', download(otherOid, other.length)), 404, otherOid);
    });

    await t.test('a batch at exactly the limits is accepted', async (t) => {
      const atLimit = { operation: 'upload', objects: Array.from({ length: 1000 }, (_, i) => ({ oid: sha256(Buffer.from(`limit ${i}`)), size: 1000 })) };
      const reply = await batch('alice/models', atLimit, alice.tokenBasic);
      t.equal(reply.status, 200);
      t.equal(reply.body.objects.length, 1000);
      t.ok(reply.body.objects.every((o: any) => o.actions?.upload && !o.error));
      t.same(await objectRows(), before);
    });
  });

  await t.test('transfer: upload, verify, download', async (t) => {
    const before = await objectRows();
    const batchReply = await batch('alice/models', upload(oid, size), bob.tokenBasic);
    t.equal(batchReply.status, 200);
    t.equal(mediaType(batchReply.headers), LFS);
    t.match(batchReply.body, { transfer: 'basic', hash_algo: 'sha256', objects: [{ oid, size, authenticated: true }] });
    const put = action(batchReply, 'upload');
    t.notOk(batchReply.body.objects[0].actions.verify, 'no verify action: the PUT through mlgit verifies and records the object');
    // The verify endpoint serves presigned uploads; here it is checked with the token an earlier
    // mlgit gave for uploads through it, which stays valid until it expires.
    const verify = { href: `${lfsUrl('alice/models')}/verify`, header: { Authorization: forge('verify', 'alice/models', oid, size) } };
    t.equal(put.href, `${lfsUrl('alice/models')}/objects/${oid}`);
    t.equal(put.header['Content-Type'], 'application/octet-stream', 'upload pins its Content-Type');
    t.match(put.header.Authorization, /^RemoteAuth /);
    t.ok(put.expires_in > 0 && put.expires_in <= 900, 'expires_in is no longer than the token lives');
    t.notMatch(JSON.stringify(batchReply.body), new RegExp(`${bob.token}|${bob.password}|${Buffer.from(bob.tokenBasic).toString('base64')}`), 'user credentials are never echoed');

    const putWith = (authorization: string | undefined, body: Buffer, url = put.href, extra: Record<string, string> = {}) =>
      call(url, { method: 'PUT', body, headers: { 'content-type': 'application/octet-stream', ...(authorization === undefined ? {} : { authorization }), ...extra } });
    const flip = (token: string, index: number) => {
      const chars = [...token];
      chars[index] = chars[index] === 'A' ? 'B' : 'A';
      return chars.join('');
    };
    const genuine = put.header.Authorization!;
    const raw = genuine.slice('RemoteAuth '.length);
    const dot = raw.indexOf('.');
    const otherRepoBatch = await batch('alice/other', upload(oid, size), alice.tokenBasic);
    const downloadToken = forge('download', 'alice/models', oid, size);

    await t.test('hostile uploads: 404 for bad tokens (as for a missing repo), 422 for bad bytes; nothing stored', async (t) => {
      const cases: { label: string; authorization?: string; body?: Buffer; url?: string; status: number; message?: RegExp }[] = [
        { label: 'fewer bytes than declared', authorization: genuine, body: content.subarray(0, size - 1), status: 422 },
        { label: 'more bytes than declared', authorization: genuine, body: Buffer.concat([content, Buffer.from('x')]), status: 422 },
        { label: 'empty body', authorization: genuine, body: Buffer.alloc(0), status: 422 },
        { label: 'wrong hash, right size', authorization: genuine, body: Buffer.from(content.map((b, i) => (i === 3 ? b ^ 1 : b))), status: 422 },
        { label: 'no token', status: 404, message: /token/ },
        { label: 'empty RemoteAuth', authorization: 'RemoteAuth ', status: 404 },
        { label: 'tampered signature', authorization: `RemoteAuth ${flip(raw, raw.length - 5)}`, status: 404 },
        { label: 'tampered claims', authorization: `RemoteAuth ${flip(raw, 5)}`, status: 404 },
        { label: 'signature moved to the front', authorization: `RemoteAuth ${raw.slice(dot + 1)}.${raw.slice(0, dot)}`, status: 404 },
        { label: 'extra segment', authorization: `${genuine}.x`, status: 404 },
        { label: 'the user\'s own credentials', authorization: basic(alice.tokenBasic), status: 404 },
        { label: 'the user\'s token as Bearer', authorization: `Bearer ${alice.token}`, status: 404 },
        { label: 'token for another oid', authorization: forge('upload', 'alice/models', otherOid, size), status: 404 },
        { label: 'genuine token of another repo', authorization: action(otherRepoBatch, 'upload').header.Authorization, status: 404 },
        { label: 'forged token for another repo', authorization: forge('upload', 'alice/other', oid, size), status: 404 },
        { label: 'expired token', authorization: forge('upload', 'alice/models', oid, size, Date.now() - 3600_000), status: 404 },
        { label: 'download token', authorization: downloadToken, status: 404 },
        { label: 'verify token', authorization: verify.header.Authorization, status: 404 },
        { label: 'token signed with another secret', authorization: `RemoteAuth ${new ActionTokens('not the secret', 900).sign({ op: 'upload', repoId: repoIds['alice/models']!, oid, size })}`, status: 404 },
        { label: 'genuine token on the other repo\'s URL', authorization: genuine, url: `${lfsUrl('alice/other')}/objects/${oid}`, status: 404 },
        { label: 'uppercase oid in the URL', authorization: genuine, url: `${lfsUrl('alice/models')}/objects/${oid.toUpperCase()}`, status: 404 },
        { label: 'traversal in the URL', authorization: genuine, url: `${lfsUrl('alice/models')}/objects/${encodeURIComponent(`../../${oid}`)}`, status: 404 },
        { label: 'missing repo', authorization: genuine, url: `${lfsUrl('alice/nope')}/objects/${oid}`, status: 404 },
      ];
      for (const c of cases) {
        await t.test(c.label, async (t) => {
          isLfsError(t, await putWith(c.authorization, c.body ?? content, c.url), c.status, c.message);
          await nothingStored(t, oid, before);
        });
      }
    });

    await t.test('verify before the upload does not record anything', async (t) => {
      const early = await call(verify.href, { body: { oid, size }, headers: verify.header });
      isLfsError(t, early, 404, new RegExp(`^object ${oid} has not been uploaded to this repository$`));
      await nothingStored(t, oid, before);
    });

    await t.test('correct bytes', async (t) => {
      const reply = await putWith(genuine, content);
      t.equal(reply.status, 200, reply.bytes.toString('utf8'));
      t.same(await server.services.store.stat(oid), { size });
      t.same(await repoLinks(oid), [repoIds['alice/models']]);
      t.equal(await tempFiles(), 0);
    });

    await t.test('verify', async (t) => {
      const verifyCases: { label: string; body: unknown; headers: Record<string, string>; status: number }[] = [
        { label: 'wrong size', body: { oid, size: size + 1 }, headers: verify.header, status: 422 },
        { label: 'size as a string', body: { oid, size: String(size) }, headers: verify.header, status: 422 },
        { label: 'bad oid', body: { oid: '../../etc/passwd', size }, headers: verify.header, status: 404 },
        { label: 'no token', body: { oid, size }, headers: {}, status: 404 },
        { label: 'upload token', body: { oid, size }, headers: { Authorization: genuine }, status: 404 },
        { label: 'expired token', body: { oid, size }, headers: { Authorization: forge('verify', 'alice/models', oid, size, Date.now() - 3600_000) }, status: 404 },
        { label: 'token for another oid', body: { oid, size }, headers: { Authorization: forge('verify', 'alice/models', otherOid, size) }, status: 404 },
        { label: 'malformed JSON', body: '{"oid":', headers: verify.header, status: 422 },
        { label: 'text/plain', body: JSON.stringify({ oid, size }), headers: { ...verify.header, 'content-type': 'text/plain' }, status: 415 },
      ];
      for (const c of verifyCases) {
        await t.test(c.label, async (t) => isLfsError(t, await call(verify.href, { body: c.body, headers: c.headers }), c.status));
      }
      const ok = await call(verify.href, { body: { oid, size }, headers: verify.header });
      t.equal(ok.status, 200, ok.bytes.toString('utf8'));
      t.equal(mediaType(ok.headers), LFS);
      t.same(await objectRows(), [...before, oid].sort());
    });

    await t.test('an object the repo has needs no upload', async (t) => {
      const again = await batch('alice/models', upload(oid, size), bob.tokenBasic);
      t.equal(again.status, 200);
      t.match(again.body.objects[0], { oid, size });
      t.notOk(again.body.objects[0].actions, 'no actions');
      t.notOk(again.body.objects[0].error);
    });

    let get: { href: string; header: Record<string, string>; expires_in: number };
    await t.test('download', async (t) => {
      const reply = await batch('alice/models', download(oid, size));
      t.equal(reply.status, 200);
      get = action(reply, 'download');
      t.equal(get.href, `${lfsUrl('alice/models')}/objects/${oid}`);
      t.ok(get.expires_in > 0 && get.expires_in <= 900);
      const object = await call(get.href, { headers: get.header });
      t.equal(object.status, 200);
      t.ok(object.bytes.equals(content), 'the bytes that were uploaded');
      t.equal(object.headers.get('content-type'), 'application/octet-stream');
      t.equal(object.headers.get('x-content-type-options'), 'nosniff');
      t.equal(object.headers.get('content-length'), String(size));
      t.equal(object.headers.get('accept-ranges'), 'bytes');
    });

    await t.test('ranges', async (t) => {
      const ranges: [string, number, string, Buffer][] = [
        ['bytes=0-0', 206, `bytes 0-0/${size}`, content.subarray(0, 1)],
        ['bytes=5-', 206, `bytes 5-${size - 1}/${size}`, content.subarray(5)],
        ['bytes=-3', 206, `bytes ${size - 3}-${size - 1}/${size}`, content.subarray(size - 3)],
        ['bytes=10-19', 206, `bytes 10-19/${size}`, content.subarray(10, 20)],
        [`bytes=${size - 1}-${size + 100}`, 206, `bytes ${size - 1}-${size - 1}/${size}`, content.subarray(size - 1)],
        [`bytes=${size}-`, 416, `bytes */${size}`, Buffer.alloc(0)],
        ['bytes=5-3', 416, `bytes */${size}`, Buffer.alloc(0)],
        ['bytes=3221225472-', 416, `bytes */${size}`, Buffer.alloc(0)],
      ];
      for (const [range, status, contentRange, expected] of ranges) {
        const reply = await call(get.href, { headers: { ...get.header, range } });
        t.equal(reply.status, status, range);
        t.equal(reply.headers.get('content-range'), contentRange, `${range}: Content-Range`);
        t.ok(reply.bytes.equals(expected), `${range}: bytes`);
        t.equal(reply.headers.get('x-content-type-options'), 'nosniff');
        if (status === 206) {
          t.equal(reply.headers.get('content-type'), 'application/octet-stream');
          t.equal(reply.headers.get('content-length'), String(expected.length));
        }
      }
      const multi = await call(get.href, { headers: { ...get.header, range: 'bytes=0-1,4-5' } });
      t.equal(multi.status, 200, 'multiple ranges: the whole object');
      t.ok(multi.bytes.equals(content));
    });

    await t.test('hostile downloads', async (t) => {
      const cases: [string, Record<string, string>, string, number][] = [
        ['no token', {}, get.href, 404],
        ['tampered token', { authorization: `RemoteAuth ${flip(get.header.Authorization!.slice('RemoteAuth '.length), 3)}` }, get.href, 404],
        ['expired token', { authorization: forge('download', 'alice/models', oid, size, Date.now() - 3600_000) }, get.href, 404],
        ['upload token', { authorization: genuine }, get.href, 404],
        ['user credentials', { authorization: basic(alice.tokenBasic) }, get.href, 404],
        ['token of this repo on another repo\'s URL', get.header, `${lfsUrl('alice/other')}/objects/${oid}`, 404],
        ['forged token for a repo without the object', { authorization: forge('download', 'alice/other', oid, size) }, `${lfsUrl('alice/other')}/objects/${oid}`, 404],
        ['token for another oid', { authorization: forge('download', 'alice/models', otherOid, size) }, get.href, 404],
        ['traversal oid', get.header, `${lfsUrl('alice/models')}/objects/${encodeURIComponent('../../../jwt-secret')}`, 404],
      ];
      for (const [label, headers, url, status] of cases) {
        await t.test(label, async (t) => {
          const reply = await call(url, { headers });
          isLfsError(t, reply, status);
          t.notOk(reply.bytes.includes(content), 'no object bytes');
        });
      }
    });

    t.same(await objectRows(), [...before, oid].sort(), 'exactly one object stored');
  });

  await t.test('transfer endpoints: a private repository answers a stranger exactly like a missing one', async (t) => {
    const requests: [string, (repo: string) => Promise<Reply>][] = [
      ['upload', (repo) => call(`${lfsUrl(repo)}/objects/${oid}`, { method: 'PUT', body: content, headers: { 'content-type': 'application/octet-stream' } })],
      ['upload with a malformed oid', (repo) => call(`${lfsUrl(repo)}/objects/NOT-AN-OID`, { method: 'PUT', body: content, headers: { 'content-type': 'application/octet-stream' } })],
      ['download', (repo) => call(`${lfsUrl(repo)}/objects/${oid}`)],
      ['download with credentials', (repo) => call(`${lfsUrl(repo)}/objects/${oid}`, { auth: carol.tokenBasic })],
      ['verify', (repo) => call(`${lfsUrl(repo)}/verify`, { body: { oid, size } })],
      ['verify with a malformed oid', (repo) => call(`${lfsUrl(repo)}/verify`, { body: { oid: 42, size } })],
    ];
    for (const [label, request] of requests) {
      const hidden = await request('alice/private-models');
      const missing = await request('alice/no-such-repo');
      isLfsError(t, hidden, 404, /transfer token/);
      t.equal(missing.status, hidden.status, `${label}: same status`);
      t.equal(missing.body?.message, hidden.body?.message, `${label}: same message`);
    }
  });

  await t.test("storage use: only its user and site admins see it; others get the missing user's answer", async (t) => {
    const storage = (username: string, auth?: string) => server.api('GET', `/api/v1/users/${username}/storage`, { auth });
    for (const [who, auth] of [
      ['anonymous', undefined],
      ['another user', carol.tokenBasic],
      ['a write collaborator', bob.tokenBasic],
    ] as const) {
      const hidden = await storage('alice', auth);
      const missing = await storage('no-such-user', auth);
      t.same(hidden.body, { error: { code: 'not_found', message: 'user "alice" not found' } }, `${who}: alice's storage is hidden`);
      t.same([hidden.status, missing.status], [404, 404], `${who}: 404 like a missing user`);
      t.same(missing.body, { error: { code: 'not_found', message: 'user "no-such-user" not found' } }, `${who}: the same message`);
    }
    for (const [who, auth] of [
      ['alice', alice.tokenBasic],
      ["alice's read-only token", aliceRead],
      ['a site admin', `${server.admin.username}:${server.admin.password}`],
    ] as const) {
      const seen = await storage('alice', auth);
      t.equal(seen.status, 200, who);
      t.match(seen.body, { username: 'alice', lfs: { objects: Number, bytes: Number } }, who);
    }
  });

  await t.test('tokens of a repo deleted after the batch answer get 404 and link nothing, also under a new repo of its name', async (t) => {
    await createRepo(alice.token, 'doomed', false);
    const bytes = Buffer.from('weights of a repository about to be deleted\n');
    const bytesOid = sha256(bytes);
    const stale = action(await batch('alice/doomed', upload(bytesOid, bytes.length), alice.tokenBasic), 'upload');
    const putStale = () => call(stale.href, { method: 'PUT', body: bytes, headers: stale.header });
    t.equal((await server.api('DELETE', '/api/v1/repos/alice/doomed', { auth: alice.token })).status, 204);
    isLfsError(t, await putStale(), 404);
    t.same(await repoLinks(bytesOid), []);

    await createRepo(alice.token, 'doomed', false);
    isLfsError(t, await putStale(), 404);
    const fresh = action(await batch('alice/doomed', upload(bytesOid, bytes.length), alice.tokenBasic), 'upload');
    t.equal((await call(fresh.href, { method: 'PUT', body: bytes, headers: fresh.header })).status, 200);
    isLfsError(t, await putStale(), 404);
    t.same(await repoLinks(bytesOid), [repoIds['alice/doomed']], 'linked to the new repo only');
  });

  await t.test('an upload is bytes whatever its Content-Type', async (t) => {
    for (const type of ['text/plain', LFS, 'application/json', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const bytes = Buffer.from(`{"looks": "like ${type}"}\n`);
      const answer = await batch('alice/models', upload(sha256(bytes), bytes.length), alice.tokenBasic);
      const put = action(answer, 'upload');
      const reply = await call(put.href, { method: 'PUT', body: bytes, headers: { authorization: put.header.Authorization!, 'content-type': type } });
      t.equal(reply.status, 200, `${type}: ${reply.bytes.toString('utf8')}`);
      t.same(await server.services.store.stat(sha256(bytes)), { size: bytes.length });
    }
  });

  await t.test('dedup does not grant access: an oid known elsewhere needs its bytes', async (t) => {
    const secretBytes = Buffer.from('private weights of alice, never to be seen by carol\n');
    const secretOid = sha256(secretBytes);
    const first = await batch('alice/private-models', upload(secretOid, secretBytes.length), alice.tokenBasic);
    t.equal((await call(action(first, 'upload').href, { method: 'PUT', body: secretBytes, headers: action(first, 'upload').header })).status, 200);
    const rowsBefore = await objectRows();

    // carol knows the oid and size (say, from a pointer file) but not the bytes.
    const claim = await batch('carol/mine', upload(secretOid, secretBytes.length), carol.tokenBasic);
    t.equal(claim.status, 200);
    t.ok(claim.body.objects[0].actions?.upload, 'carol must upload the bytes herself');
    t.notOk(claim.body.objects[0].actions?.verify, 'through mlgit: no verify action');
    const verify = { href: `${lfsUrl('carol/mine')}/verify`, header: { Authorization: forge('verify', 'carol/mine', secretOid, secretBytes.length) } };
    const skipped = await call(verify.href, { body: { oid: secretOid, size: secretBytes.length }, headers: verify.header });
    t.not(skipped.status, 200, 'verify without an upload fails');
    t.equal(mediaType(skipped.headers), LFS);
    t.same(await repoLinks(secretOid), [repoIds['alice/private-models']], 'carol\'s repo does not reference the object');
    isObjectError(t, await batch('carol/mine', download(secretOid, secretBytes.length), carol.tokenBasic), 404, secretOid);

    // Wrong bytes under the known oid change nothing, for carol or for alice.
    const lie = await call(action(claim, 'upload').href, { method: 'PUT', body: Buffer.from(secretBytes.map((b) => b ^ 0xff)), headers: action(claim, 'upload').header });
    isLfsError(t, lie, 422);
    t.same(await repoLinks(secretOid), [repoIds['alice/private-models']]);
    t.same(await objectRows(), rowsBefore);
    const aliceGet = action(await batch('alice/private-models', download(secretOid, secretBytes.length), alice.tokenBasic), 'download');
    t.ok((await call(aliceGet.href, { headers: aliceGet.header })).bytes.equals(secretBytes), 'alice still gets her bytes');

    // With the bytes, carol proves possession and may then serve them from her repo.
    const proof = await call(action(claim, 'upload').href, { method: 'PUT', body: secretBytes, headers: action(claim, 'upload').header });
    t.equal(proof.status, 200);
    t.equal((await call(verify.href, { body: { oid: secretOid, size: secretBytes.length }, headers: verify.header })).status, 200);
    t.same(await repoLinks(secretOid), [repoIds['alice/private-models'], repoIds['carol/mine']].sort((a, b) => a! - b!));
  });

  await t.test('presigned uploads (S3-like store): verify records only what the store checked', async (t) => {
    // The same service over a store that presigns uploads; the "client" PUTs straight into it.
    const local = server.services.store;
    const presigning: ObjectStore = {
      reachable: (ms) => local.reachable(ms),
      stat: (o) => local.stat(o),
      put: (o, n, body) => local.put(o, n, body),
      get: (o, range) => local.get(o, range),
      delete: (o) => local.delete(o),
      presignUpload: async (o) => ({ href: `https://bucket.example/${o}`, header: { 'x-amz-checksum-sha256': 'x' }, expiresInSeconds: 900 }),
      presignDownload: async () => null,
    };
    const lfs = new LfsService(db, server.services.repos, presigning, new ActionTokens(secret, 900), { maxObjectBytes: 1000, maxBatchObjects: 1000 });
    const principal = (name: string) => server.services.accounts.authenticateBasic(name, `${name}-password`);
    const urls = () => ({ object: (o: string) => `http://mlgit.example/objects/${o}`, verify: 'http://mlgit.example/verify' });
    const token = (actions: any, name: string): string => (actions[name].header.Authorization as string).slice('RemoteAuth '.length);
    const code = (err: unknown) => (err as DomainError).code;

    const fresh = Buffer.from('fresh object, straight to the bucket\n');
    const freshOid = sha256(fresh);
    const answer = await lfs.batch(await principal('alice'), 'alice', 'other', upload(freshOid, fresh.length), urls);
    const actions = answer.objects[0]!.actions!;
    t.equal(actions.upload!.href, `https://bucket.example/${freshOid}`, 'a new object is uploaded presigned');
    const otherRepo = await server.services.lfs.repoByName({ owner: 'alice', name: 'other' });
    await t.rejects(lfs.verify(otherRepo, freshOid, fresh.length, token(actions, 'verify')), { code: 'not_found' }, 'verify before the PUT');
    await local.put(freshOid, fresh.length, Readable.from([fresh]));
    await lfs.verify(otherRepo, freshOid, fresh.length, token(actions, 'verify'));
    t.same(await repoLinks(freshOid), [repoIds['alice/other']], 'verify recorded the presigned upload');

    // Known elsewhere: the upload goes through mlgit, and verify alone links nothing.
    const carolRepo = await server.services.lfs.repoByName({ owner: 'carol', name: 'mine' });
    const known = await lfs.batch(await principal('carol'), 'carol', 'mine', upload(freshOid, fresh.length), urls);
    const knownActions = known.objects[0]!.actions!;
    t.equal(knownActions.upload!.href, `http://mlgit.example/objects/${freshOid}`, 'an object known elsewhere is uploaded through mlgit');
    t.notOk(knownActions.verify, 'and needs no verify action');
    const knownVerify = forge('verify', 'carol/mine', freshOid, fresh.length).slice('RemoteAuth '.length);
    await t.rejects(lfs.verify(carolRepo, freshOid, fresh.length, knownVerify), { code: 'not_found' });
    t.same(await repoLinks(freshOid), [repoIds['alice/other']]);

    // Presigned for carol, but recorded by alice's repo before carol's verify: no link for carol.
    const raced = Buffer.from('an object two repos upload at once\n');
    const racedOid = sha256(raced);
    const carolAnswer = await lfs.batch(await principal('carol'), 'carol', 'mine', upload(racedOid, raced.length), urls);
    t.match(carolAnswer.objects[0]!.actions!.upload!.href, /^https:\/\/bucket\.example\//);
    const aliceAnswer = await lfs.batch(await principal('alice'), 'alice', 'other', upload(racedOid, raced.length), urls);
    await local.put(racedOid, raced.length, Readable.from([raced]));
    await lfs.verify(otherRepo, racedOid, raced.length, token(aliceAnswer.objects[0]!.actions!, 'verify'));
    const err = await lfs.verify(carolRepo, racedOid, raced.length, token(carolAnswer.objects[0]!.actions!, 'verify')).catch((e: unknown) => e);
    t.equal(code(err), 'conflict', 'verify after another repo recorded the object');
    t.same(await repoLinks(racedOid), [repoIds['alice/other']]);
    for (const o of [freshOid, racedOid]) {
      await db.deleteFrom('lfs_repo_objects').where('oid', '=', o).execute();
      await db.deleteFrom('lfs_objects').where('oid', '=', o).execute();
      await local.delete(o);
    }
  });

  await t.test('locks', async (t) => {
    const locks = (repo: string) => `${lfsUrl(repo)}/locks`;
    const createLock = (repo: string, lockPath: string, auth: string | undefined) => call(locks(repo), { auth, body: { path: lockPath, ref: { name: 'refs/heads/main' } } });
    const listLocks = async (repo: string, query: string, auth?: string) => call(`${locks(repo)}${query}`, { auth });
    const lockCount = async () => Number((await db.selectFrom('lfs_locks').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()).n);

    const created = await createLock('alice/models', 'weights/model.bin', alice.tokenBasic);
    t.equal(created.status, 201, created.bytes.toString('utf8'));
    t.equal(mediaType(created.headers), LFS);
    t.same(Object.keys(created.body), ['lock']);
    t.same(Object.keys(created.body.lock).sort(), ['id', 'locked_at', 'owner', 'path']);
    t.match(created.body.lock, { id: String, path: 'weights/model.bin', owner: { name: 'alice' } });
    t.ok(!Number.isNaN(Date.parse(created.body.lock.locked_at)), 'locked_at is a timestamp');
    const aliceLock = created.body.lock;

    await t.test('the same path again: 409 with the existing lock', async (t) => {
      for (const auth of [bob.tokenBasic, alice.tokenBasic]) {
        const again = await createLock('alice/models', 'weights/model.bin', auth);
        t.equal(again.status, 409);
        t.equal(mediaType(again.headers), LFS);
        t.same(again.body.lock, aliceLock, 'the existing lock');
        t.type(again.body.message, 'string');
        t.equal(again.body.request_id, again.headers.get('x-request-id'));
        t.equal(again.body.documentation_url, DOCS);
      }
      t.equal(await lockCount(), 1);
    });

    const bobLock = (await createLock('alice/models', 'data/train.csv', bob.tokenBasic)).body.lock;
    t.match(bobLock, { owner: { name: 'bob' } });
    const foreign = await createLock('alice/other', 'weights/model.bin', alice.tokenBasic);
    t.equal(foreign.status, 201, 'the same path in another repo is another lock');
    const foreignLock = foreign.body.lock;

    await t.test('hostile lock requests', async (t) => {
      const before = await lockCount();
      const cases: { label: string; url?: string; method?: string; body?: unknown; auth?: string; headers?: Record<string, string>; status: number }[] = [
        { label: 'anonymous create on a public repo', body: { path: 'a.bin' }, status: 401 },
        { label: 'anonymous list on a private repo', url: `${locks('alice/private-models')}`, status: 401 },
        { label: 'anonymous verify', url: `${locks('alice/models')}/verify`, body: {}, status: 401 },
        { label: 'read-only token create', body: { path: 'a.bin' }, auth: aliceRead, status: 403 },
        { label: 'read-only token verify', url: `${locks('alice/models')}/verify`, body: {}, auth: aliceRead, status: 403 },
        { label: 'read-only token unlock', url: `${locks('alice/models')}/${aliceLock.id as string}/unlock`, body: {}, auth: aliceRead, status: 403 },
        { label: 'outsider create', body: { path: 'a.bin' }, auth: carol.tokenBasic, status: 403 },
        { label: 'outsider create on a private repo', url: locks('alice/private-models'), body: { path: 'a.bin' }, auth: carol.tokenBasic, status: 404 },
        { label: 'outsider list on a private repo', url: locks('alice/private-models'), auth: carol.tokenBasic, status: 404 },
        { label: 'outsider unlock', url: `${locks('alice/models')}/${aliceLock.id as string}/unlock`, body: { force: true }, auth: carol.tokenBasic, status: 403 },
        { label: 'missing path', body: {}, auth: bob.tokenBasic, status: 422 },
        { label: 'empty path', body: { path: '' }, auth: bob.tokenBasic, status: 422 },
        { label: 'path not a string', body: { path: ['a'] }, auth: bob.tokenBasic, status: 422 },
        { label: 'NUL in path', body: { path: 'a\0b' }, auth: bob.tokenBasic, status: 422 },
        { label: 'malformed JSON', body: '{"path":', auth: bob.tokenBasic, status: 422 },
        { label: 'text/plain', body: JSON.stringify({ path: 'a.bin' }), headers: { 'content-type': 'text/plain' }, auth: bob.tokenBasic, status: 415 },
        { label: 'invalid cursor (letters)', url: `${locks('alice/models')}?cursor=abc`, auth: bob.tokenBasic, status: 422 },
        { label: 'invalid cursor (negative)', url: `${locks('alice/models')}?cursor=-1`, auth: bob.tokenBasic, status: 422 },
        { label: 'invalid cursor (SQL)', url: `${locks('alice/models')}?cursor=${encodeURIComponent("1' or '1'='1")}`, auth: bob.tokenBasic, status: 422 },
        { label: 'invalid cursor on verify', url: `${locks('alice/models')}/verify`, body: { cursor: 'abc' }, auth: bob.tokenBasic, status: 422 },
        { label: 'limit 0', url: `${locks('alice/models')}?limit=0`, auth: bob.tokenBasic, status: 422 },
        { label: 'limit too large', url: `${locks('alice/models')}?limit=1001`, auth: bob.tokenBasic, status: 422 },
        { label: 'limit not a number', url: `${locks('alice/models')}?limit=ten`, auth: bob.tokenBasic, status: 422 },
        { label: 'unlock of a missing lock', url: `${locks('alice/models')}/999999/unlock`, body: {}, auth: alice.tokenBasic, status: 404 },
        { label: 'unlock with a non-numeric id', url: `${locks('alice/models')}/abc/unlock`, body: { force: true }, auth: alice.tokenBasic, status: 404 },
      ];
      for (const c of cases) {
        await t.test(c.label, async (t) => {
          const reply = await call(c.url ?? locks('alice/models'), { method: c.method, body: c.body, auth: c.auth, headers: c.headers });
          isLfsError(t, reply, c.status);
          if (c.status === 401) t.equal(reply.headers.get('lfs-authenticate'), 'Basic realm="mlgit"');
          t.equal(await lockCount(), before, 'no lock created or removed');
        });
      }
    });

    await t.test('verify splits ours and theirs', async (t) => {
      const asAlice = await call(`${locks('alice/models')}/verify`, { auth: alice.tokenBasic, body: {} });
      t.equal(asAlice.status, 200);
      t.equal(mediaType(asAlice.headers), LFS);
      t.same(asAlice.body, { ours: [aliceLock], theirs: [bobLock] });
      const asBob = await call(`${locks('alice/models')}/verify`, { auth: bob.tokenBasic, body: { ref: { name: 'refs/heads/main' } } });
      t.same(asBob.body, { ours: [bobLock], theirs: [aliceLock] });
      const paged = await call(`${locks('alice/models')}/verify`, { auth: bob.tokenBasic, body: { limit: 1 } });
      t.same(paged.body, { ours: [], theirs: [aliceLock], next_cursor: aliceLock.id });
      const rest = await call(`${locks('alice/models')}/verify`, { auth: bob.tokenBasic, body: { limit: 1, cursor: paged.body.next_cursor } });
      t.same(rest.body, { ours: [bobLock], theirs: [] });
    });

    await t.test('list filters and cursor paging', async (t) => {
      const paths = ['p/0.bin', 'p/1.bin', 'p/2.bin', 'p/3.bin', 'p/4.bin'];
      const five: any[] = [];
      for (const p of paths) {
        const reply = await createLock('alice/private-models', p, bob.tokenBasic);
        t.equal(reply.status, 201);
        five.push(reply.body.lock);
      }
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const reply = await listLocks('alice/private-models', `?limit=2${cursor ? `&cursor=${cursor}` : ''}`, alice.tokenBasic);
        t.equal(reply.status, 200);
        t.equal(mediaType(reply.headers), LFS);
        t.ok(reply.body.locks.length <= 2);
        seen.push(...reply.body.locks.map((l: any) => l.id as string));
        cursor = reply.body.next_cursor;
        pages++;
      } while (cursor && pages < 10);
      t.equal(pages, 3);
      t.same(seen, five.map((l) => l.id), 'every lock exactly once, in order');

      const all = await listLocks('alice/private-models', '', alice.tokenBasic);
      t.same(all.body, { locks: five }, 'no next_cursor when everything fits');
      t.same((await listLocks('alice/private-models', `?path=${encodeURIComponent('p/3.bin')}`, alice.tokenBasic)).body, { locks: [five[3]] });
      t.same((await listLocks('alice/private-models', `?id=${five[1].id as string}`, alice.tokenBasic)).body, { locks: [five[1]] });
      t.same((await listLocks('alice/private-models', '?path=nope', alice.tokenBasic)).body, { locks: [] });
      t.same((await listLocks('alice/private-models', '?id=abc', alice.tokenBasic)).body, { locks: [] });
      t.same((await listLocks('alice/private-models', `?id=${foreignLock.id as string}`, alice.tokenBasic)).body, { locks: [] }, 'a lock id of another repo is not listed');
      t.same((await listLocks('alice/models', '', aliceRead)).body, { locks: [aliceLock, bobLock] }, 'a read-only token may list');
      t.same((await listLocks('alice/models', '')).body, { locks: [aliceLock, bobLock] }, 'anonymous may list a public repo');
    });

    await t.test('unlock', async (t) => {
      const unlock = (repo: string, id: string, auth: string, body: unknown = {}) => call(`${locks(repo)}/${id}/unlock`, { auth, body });
      isLfsError(t, await unlock('alice/models', aliceLock.id, bob.tokenBasic), 403, /force/);
      isLfsError(t, await unlock('alice/models', aliceLock.id, bob.tokenBasic, { force: true }), 403, /admin/);
      isLfsError(t, await unlock('alice/models', aliceLock.id, bob.tokenBasic, { force: 'true' }), 403);
      isLfsError(t, await unlock('alice/models', bobLock.id, alice.tokenBasic), 403, /force/);

      // A lock id of another repo on this repo's URL: 404, even for its owner with force.
      isLfsError(t, await unlock('alice/models', foreignLock.id, alice.tokenBasic, { force: true }), 404);
      t.same((await listLocks('alice/other', '', alice.tokenBasic)).body, { locks: [foreignLock] }, 'the foreign lock still exists');

      const forced = await unlock('alice/models', bobLock.id, alice.tokenBasic, { force: true });
      t.equal(forced.status, 200, forced.bytes.toString('utf8'));
      t.equal(mediaType(forced.headers), LFS);
      t.same(forced.body, { lock: bobLock });
      const own = await unlock('alice/models', aliceLock.id, alice.tokenBasic);
      t.equal(own.status, 200);
      t.same(own.body, { lock: aliceLock });
      isLfsError(t, await unlock('alice/models', aliceLock.id, alice.tokenBasic), 404, /lock/);
      t.same((await listLocks('alice/models', '', alice.tokenBasic)).body, { locks: [] });
      t.same((await listLocks('alice/other', '', alice.tokenBasic)).body, { locks: [foreignLock] });
    });
  });
});
