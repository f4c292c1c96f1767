import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { Readable, pipeline } from 'node:stream';
import { DomainError, invalid, notFound } from '../../domain/errors.ts';
import type { ObjectStore, StoredObject, TransferAction } from '../../domain/ports.ts';
import { assertOid, assertRange, assertSize, shardedPath } from './validate.ts';
import { uploadStream } from './s3-multipart.ts';
import { VerifyingStream } from './verifying-stream.ts';

export interface S3ObjectStoreOptions {
  /** Omit for AWS itself; set for MinIO, s3rver and other S3-compatible stores. */
  readonly endpoint?: string;
  readonly bucket: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly forcePathStyle: boolean;
  /** Lifetime of presigned URLs; keep it short (a leaked URL is a bearer token). */
  readonly presignExpiresSeconds: number;
  /** Key prefix, default `lfs/`. */
  readonly prefix?: string;
}

/** S3's limit for a single PUT (5 GiB); larger objects go through mlgit as multipart. */
const MAX_SINGLE_PUT = 5 * 1024 ** 3;
/** S3's limit for one object (5 TiB). */
const MAX_OBJECT = 5 * 1024 ** 4;
const PART_SIZE = 16 * 1024 ** 2;
const MAX_PARTS = 10_000;
const CONTENT_TYPE = 'application/octet-stream';

/**
 * LFS objects in an S3 bucket under `<prefix>ab/cd/<oid>`. Clients move bytes with presigned
 * URLs (they never pass through mlgit); `put` is for objects above the presigned-PUT limit and
 * for bytes the server produces itself.
 */
export class S3ObjectStore implements ObjectStore {
  readonly #client: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #expiresSeconds: number;

  constructor(options: S3ObjectStoreOptions) {
    this.#client = new S3Client({
      endpoint: options.endpoint,
      region: options.region,
      forcePathStyle: options.forcePathStyle,
      credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
      // The SDK defaults send streamed bodies aws-chunked with trailing checksums, which
      // s3rver (and some S3-compatible stores) store verbatim, and presigned PUTs then carry
      // the checksum of an empty body. We verify sha256 ourselves.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    this.#bucket = options.bucket;
    const prefix = options.prefix ?? 'lfs/';
    this.#prefix = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
    if (!Number.isSafeInteger(options.presignExpiresSeconds) || options.presignExpiresSeconds < 1) {
      throw new Error('presignExpiresSeconds must be a positive integer');
    }
    this.#expiresSeconds = options.presignExpiresSeconds;
  }

  #key(oid: string): string {
    return `${this.#prefix}${shardedPath(oid)}`;
  }

  /**
   * SigV4 dates have whole seconds (rounded down), so a URL can die up to a second before
   * now + expiresIn: advertise one second less, as the LFS spec wants expires_in no longer
   * than the real lifetime.
   */
  get #advertisedExpiry(): number {
    return Math.max(1, this.#expiresSeconds - 1);
  }

  async reachable(timeoutMs: number): Promise<boolean> {
    try {
      await this.#client.send(new HeadBucketCommand({ Bucket: this.#bucket }), { abortSignal: AbortSignal.timeout(timeoutMs) });
      return true;
    } catch {
      return false;
    }
  }

  async stat(oid: string): Promise<StoredObject | null> {
    assertOid(oid);
    try {
      const head = await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: this.#key(oid) }));
      return { size: head.ContentLength ?? 0 };
    } catch (err) {
      if (httpStatus(err) === 404) return null;
      throw err;
    }
  }

  async put(oid: string, size: number, body: Readable): Promise<void> {
    assertOid(oid);
    assertSize(size);
    if (size > MAX_OBJECT) throw new DomainError('too_large', `objects are limited to ${MAX_OBJECT} bytes (S3)`);
    // Nothing becomes visible before verification: uploadStream commits only after its
    // source ends cleanly, and VerifyingStream fails instead of ending on a wrong size or hash.
    // (The alternative, a temp key plus CopyObject, needs a multipart copy above 5 GiB,
    // which is exactly the objects that come through here.)
    const verified = new VerifyingStream(oid, size);
    // pipeline passes errors of `body` (client gone) on to `verified`, and destroys `body`
    // when `verified` fails or is destroyed; its callback has nothing left to report.
    pipeline(body, verified, () => {});
    try {
      await uploadStream(
        {
          client: this.#client,
          bucket: this.#bucket,
          key: this.#key(oid),
          contentType: CONTENT_TYPE,
          size,
          // Parts grow only past 156 GiB, where S3's 10,000-part limit forces it.
          partSize: Math.max(PART_SIZE, Math.ceil(size / MAX_PARTS)),
          queueSize: 2,
        },
        verified,
      );
    } finally {
      // When S3 itself failed, stop reading the client's bytes.
      verified.destroy();
    }
  }

  async get(oid: string, range?: { start: number; end: number }): Promise<Readable> {
    assertOid(oid);
    assertRange(range);
    try {
      const out = await this.#client.send(
        new GetObjectCommand({
          Bucket: this.#bucket,
          Key: this.#key(oid),
          Range: range ? `bytes=${range.start}-${range.end}` : undefined,
        }),
      );
      if (!(out.Body instanceof Readable)) throw new Error('S3 GetObject returned no Node.js stream');
      if (range === undefined) return out.Body;
      // Some S3-compatible stores answer a range with more than asked: s3rver reads
      // `bytes=0-0` as `bytes=0-` (its `end || Infinity`). Trim rather than send a client
      // more bytes than its Content-Range says; a range that starts elsewhere is an error.
      const wanted = range.end - range.start + 1;
      if (out.ContentLength === undefined || out.ContentLength <= wanted) return out.Body;
      if (!out.ContentRange?.startsWith(`bytes ${range.start}-`)) {
        out.Body.destroy();
        throw new Error(`S3 answered range ${range.start}-${range.end} with ${out.ContentRange ?? 'no Content-Range'}`);
      }
      return Readable.from(firstBytes(out.Body, wanted), { objectMode: false });
    } catch (err) {
      const status = httpStatus(err);
      if (status === 404) throw notFound(`object ${oid}`);
      if (status === 416) throw invalid(`range ${range?.start}-${range?.end} is not satisfiable`);
      throw err;
    }
  }

  async delete(oid: string): Promise<void> {
    assertOid(oid);
    await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: this.#key(oid) }));
  }

  /**
   * A presigned PUT that signs Content-Length, Content-Type and x-amz-checksum-sha256 (the oid
   * itself, base64): S3 rejects other lengths, and bytes whose sha256 differs, so a wrong
   * upload never lands under this key. The checksum header stays a header (not hoisted into
   * the query string) so the client must send exactly it.
   */
  async presignUpload(oid: string, size: number): Promise<TransferAction | null> {
    assertOid(oid);
    assertSize(size);
    if (size > MAX_SINGLE_PUT) return null;
    const checksum = Buffer.from(oid, 'hex').toString('base64');
    const command = new PutObjectCommand({
      Bucket: this.#bucket,
      Key: this.#key(oid),
      ContentLength: size,
      ContentType: CONTENT_TYPE,
      ChecksumSHA256: checksum,
    });
    const href = await getSignedUrl(this.#client, command, {
      expiresIn: this.#expiresSeconds,
      signableHeaders: new Set(['content-length', 'content-type', 'x-amz-checksum-sha256']),
      unhoistableHeaders: new Set(['x-amz-checksum-sha256']),
    });
    // Content-Length is left out: the client sets it from the object size itself.
    return {
      href,
      header: { 'Content-Type': CONTENT_TYPE, 'x-amz-checksum-sha256': checksum },
      expiresInSeconds: this.#advertisedExpiry,
    };
  }

  async presignDownload(oid: string, size: number): Promise<TransferAction | null> {
    assertOid(oid);
    assertSize(size);
    // The response type is forced too, in case an object was stored with another type:
    // a sniffable type would let uploaded HTML run in a browser.
    const command = new GetObjectCommand({ Bucket: this.#bucket, Key: this.#key(oid), ResponseContentType: CONTENT_TYPE });
    const href = await getSignedUrl(this.#client, command, { expiresIn: this.#expiresSeconds });
    return { href, header: {}, expiresInSeconds: this.#advertisedExpiry };
  }

  /** Closes the client's keep-alive sockets (shutdown and tests). */
  destroy(): void {
    this.#client.destroy();
  }
}

async function* firstBytes(source: Readable, length: number): AsyncGenerator<Buffer> {
  let left = length;
  // Leaving the loop early destroys `source`, which closes the response.
  for await (const chunk of source) {
    const part = (chunk as Buffer).subarray(0, left);
    left -= part.length;
    yield part;
    if (left === 0) return;
  }
}

function httpStatus(err: unknown): number | undefined {
  return err instanceof S3ServiceException ? err.$metadata.httpStatusCode : undefined;
}
