import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type t from 'tap';
import type { ObjectStore, TransferAction } from '../../server/domain/ports.ts';

type TapTest = Parameters<Parameters<typeof t.test>[0]>[0];

export interface StoreUnderTest {
  store: ObjectStore;
  /** Performs a presigned upload as an LFS client would; resolves to the HTTP status. */
  uploadThroughPresign?: (action: TransferAction, bytes: Buffer) => Promise<number>;
  /**
   * False when the backend accepts presigned PUTs whatever their bytes (s3rver does not check
   * SigV4 signatures or x-amz-checksum-sha256); real S3 and MinIO reject them.
   */
  backendVerifiesPresignedBytes?: boolean;
  /** Every file or key the store holds (temp files included): proves nothing was left behind. */
  listStorage: () => Promise<string[]>;
}

const MiB = 1024 * 1024;
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** A stream of `bytes` in 64 KiB chunks, the way a socket delivers them. */
function chunked(bytes: Buffer): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < bytes.length; i += 64 * 1024) yield bytes.subarray(i, i + 64 * 1024);
    })(),
  );
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * `size` bytes made on the fly, the same on every call (hash them once, stream them again):
 * a random 1 MiB block stamped with its index, copied fresh each time as a socket would.
 */
function generator(size: number): () => Generator<Buffer> {
  const block = randomBytes(MiB);
  return function* () {
    for (let index = 0, sent = 0; sent < size; index++) {
      const chunk = Buffer.from(block.subarray(0, Math.min(MiB, size - sent)));
      if (chunk.length >= 4) chunk.writeUInt32BE(index, 0);
      sent += chunk.length;
      yield chunk;
    }
  };
}

/** A DomainError pattern for t.rejects (tap matches the error's fields against it). */
const domainError = (code: string, message?: RegExp) => (message ? { code, message } : { code });

/** The behaviour every ObjectStore (local files, S3) must share; see ObjectStore in ports.ts. */
export function objectStoreContract(t: TapTest, makeStore: () => Promise<StoreUnderTest>): void {
  const bytes = randomBytes(3 * MiB);
  const oid = sha256(bytes);

  t.test('put, stat and get round trip', async (t) => {
    const { store } = await makeStore();
    t.equal(await store.stat(oid), null, 'absent before');
    await store.put(oid, bytes.length, chunked(bytes));
    t.same(await store.stat(oid), { size: bytes.length });
    t.ok((await readAll(await store.get(oid))).equals(bytes), 'same bytes back');
  });

  t.test('get with ranges (inclusive)', async (t) => {
    const { store } = await makeStore();
    await store.put(oid, bytes.length, chunked(bytes));
    const last = bytes.length - 1;
    for (const [name, start, end] of [
      ['first byte', 0, 0],
      ['middle', 1000, 2 * MiB + 17],
      ['last byte', last, last],
    ] as const) {
      const got = await readAll(await store.get(oid, { start, end }));
      t.ok(got.equals(bytes.subarray(start, end + 1)), name);
    }
    await t.rejects(store.get(oid, { start: 10, end: 9 }), domainError('invalid'), 'start after end');
  });

  t.test('size lies and wrong hashes are rejected and nothing is stored', async (t) => {
    const { store, listStorage } = await makeStore();
    const before = await listStorage();
    const flipped = Buffer.from(bytes);
    flipped[MiB] = (flipped[MiB] ?? 0) ^ 0xff;
    const cases = [
      { name: 'fewer bytes than declared', body: bytes.subarray(0, bytes.length - 1), message: /size mismatch: expected 3145728 bytes, received 3145727/ },
      { name: 'more bytes than declared', body: Buffer.concat([bytes, Buffer.from('x')]), message: /size mismatch: expected 3145728 bytes, received more/ },
      { name: 'wrong hash', body: flipped, message: new RegExp(`hash mismatch: expected sha256 ${oid}, received ${sha256(flipped)}`) },
    ];
    for (const { name, body, message } of cases) {
      await t.rejects(store.put(oid, bytes.length, chunked(body)), domainError('invalid', message), name);
      t.equal(await store.stat(oid), null, `${name}: not visible`);
    }
    t.same(await listStorage(), before, 'no temp files or keys left behind');
  });

  t.test('concurrent puts of the same object all succeed', async (t) => {
    const { store } = await makeStore();
    await Promise.all(Array.from({ length: 4 }, () => store.put(oid, bytes.length, chunked(bytes))));
    t.same(await store.stat(oid), { size: bytes.length });
    t.ok((await readAll(await store.get(oid))).equals(bytes));
  });

  t.test('delete', async (t) => {
    const { store } = await makeStore();
    await store.put(oid, bytes.length, chunked(bytes));
    await store.delete(oid);
    t.equal(await store.stat(oid), null);
    await t.rejects(store.get(oid), domainError('not_found'));
    await store.delete(oid); // idempotent: gc may run twice
  });

  t.test('invalid oids are rejected without touching storage', async (t) => {
    const { store, listStorage } = await makeStore();
    const before = await listStorage();
    const bad = [
      ['path traversal', '../etc/passwd'],
      ['uppercase hex', oid.toUpperCase()],
      ['63 characters', oid.slice(1)],
      ['empty', ''],
      ['traversal padded to 64', `../../${oid.slice(6)}`],
    ] as const;
    for (const [name, badOid] of bad) {
      let bodyRead = false;
      const body = new Readable({ read: () => void ((bodyRead = true), body.push(null)) });
      const calls: [string, () => Promise<unknown>][] = [
        ['stat', () => store.stat(badOid)],
        ['put', () => store.put(badOid, 1, body)],
        ['get', () => store.get(badOid)],
        ['delete', () => store.delete(badOid)],
        ['presignUpload', () => store.presignUpload(badOid, 1)],
        ['presignDownload', () => store.presignDownload(badOid, 1)],
      ];
      for (const [method, call] of calls) await t.rejects(call(), domainError('invalid'), `${name}: ${method}`);
      t.notOk(bodyRead, `${name}: body not read`);
    }
    for (const size of [-1, 1.5, Number.NaN]) {
      await t.rejects(store.put(oid, size, chunked(bytes)), domainError('invalid'), `size ${size}`);
    }
    t.same(await listStorage(), before);
  });

  // Before the other large cases, whose garbage would raise the baseline and hide growth.
  t.test('a 64 MiB put keeps memory flat', async (t) => {
    const { store } = await makeStore();
    const size = 64 * MiB;
    const generated = generator(size);
    const hash = createHash('sha256');
    for (const chunk of generated()) hash.update(chunk);
    const bigOid = hash.digest('hex');
    const baseline = process.memoryUsage.rss();
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 10);
    try {
      await store.put(bigOid, size, Readable.from(generated()));
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, process.memoryUsage.rss());
    const grewMB = (peak - baseline) / 1e6;
    t.ok(grewMB < 60, `RSS grew ${grewMB.toFixed(1)} MB (< 60)`);
    t.same(await store.stat(bigOid), { size });
    await store.delete(bigOid);
  });

  t.test('mismatches in objects of several parts are rejected too', async (t) => {
    // 40 MiB spans parts of S3's multipart upload: nothing may be completed before the end.
    const { store, listStorage } = await makeStore();
    const before = await listStorage();
    const size = 40 * MiB;
    const hash = createHash('sha256');
    for (const chunk of generator(size)()) hash.update(chunk);
    const declared = hash.digest('hex');
    await t.rejects(store.put(declared, size, Readable.from(generator(size)())), domainError('invalid', /hash mismatch/), 'other bytes, same size');
    await t.rejects(store.put(declared, size + 1, Readable.from(generator(size)())), domainError('invalid', /size mismatch/), 'one byte short');
    t.equal(await store.stat(declared), null, 'not visible');
    t.same(await listStorage(), before, 'nothing left behind');
  });

  t.test('presigned transfers (stores that offer them)', async (t) => {
    const { store, uploadThroughPresign, backendVerifiesPresignedBytes = true } = await makeStore();
    const upload = await store.presignUpload(oid, bytes.length);
    if (upload === null || uploadThroughPresign === undefined) {
      t.equal(upload, null, 'bytes go through mlgit');
      t.equal(await store.presignDownload(oid, bytes.length), null);
      return;
    }
    t.ok(upload.expiresInSeconds > 0, 'expires_in is set');
    t.equal(upload.header['Content-Type'], 'application/octet-stream', 'content type pinned');

    const flipped = Buffer.from(bytes);
    flipped[0] = (flipped[0] ?? 0) ^ 0xff;
    const wrongStatus = await uploadThroughPresign(upload, flipped);
    if (backendVerifiesPresignedBytes) {
      t.ok(wrongStatus >= 400 && wrongStatus < 500, `wrong bytes rejected (${wrongStatus})`);
      t.equal(await store.stat(oid), null, 'wrong bytes not stored');
    } else {
      // Documented limitation of the test backend, not of the store: see backendVerifiesPresignedBytes.
      t.equal(wrongStatus, 200, 'this backend does not check presigned bytes');
    }

    t.equal(await uploadThroughPresign(upload, bytes), 200, 'right bytes accepted');
    t.same(await store.stat(oid), { size: bytes.length });

    const download = await store.presignDownload(oid, bytes.length);
    t.ok(download, 'presigned download');
    if (download === null) return;
    const res = await fetch(download.href, { headers: download.header });
    t.equal(res.status, 200);
    t.equal(res.headers.get('content-type'), 'application/octet-stream');
    t.ok(Buffer.from(await res.arrayBuffer()).equals(bytes), 'same bytes back');
  });
}
