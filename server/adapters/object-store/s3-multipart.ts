import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';

export interface StreamUpload {
  readonly client: S3Client;
  readonly bucket: string;
  readonly key: string;
  readonly contentType: string;
  /** Declared size: up to one part goes as a single PutObject. */
  readonly size: number;
  readonly partSize: number;
  /** Part buffers in memory at once (filling or uploading): memory is queueSize * partSize. */
  readonly queueSize: number;
}

/**
 * Uploads `source` and makes it visible only if `source` ends cleanly: the single PutObject
 * or the CompleteMultipartUpload is sent after its last byte, so a stream that fails instead
 * of ending (a VerifyingStream on a size or hash mismatch, a client that went away) leaves
 * nothing behind but an aborted upload.
 *
 * Not lib-storage's Upload: its chunker concatenates buffers and keeps each part's remainder
 * as a view of the concatenated one, which measured ~70 MB for 16 MiB parts and queueSize 2.
 * Here a fixed pool of part buffers is filled and reused: reading the client's bytes stops
 * while every buffer is uploading, which is the backpressure we want.
 */
export async function uploadStream(upload: StreamUpload, source: Readable): Promise<void> {
  const { client, bucket, key, contentType, size, partSize, queueSize } = upload;
  const pool = new BufferPool(Math.min(partSize, Math.max(size, 1)), queueSize);
  if (size <= partSize) {
    let body: Buffer = Buffer.alloc(0);
    for await (const part of cutParts(source, pool)) body = part.data;
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: body.length, ContentType: contentType }));
    return;
  }

  const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ContentType: contentType }));
  const uploaded: CompletedPart[] = [];
  const inFlight = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  try {
    let PartNumber = 0;
    for await (const { data, buffer } of cutParts(source, pool)) {
      if (failure) throw failure.error;
      const partNumber = ++PartNumber;
      // Failures are recorded, not left as rejected promises nobody awaits yet. The buffer
      // goes back to the pool only once the SDK is done with it (retries included).
      const sending: Promise<void> = client
        .send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: partNumber, Body: data, ContentLength: data.length }))
        .then(
          ({ ETag }) => void uploaded.push({ PartNumber: partNumber, ETag }),
          (error: unknown) => void (failure ??= { error }),
        )
        .finally(() => {
          inFlight.delete(sending);
          pool.release(buffer);
        });
      inFlight.add(sending);
    }
    await Promise.all(inFlight);
    if (failure) throw failure.error;
    uploaded.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
    await client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: uploaded } }));
  } catch (err) {
    await Promise.all(inFlight);
    // Best effort: the caller needs the original error. Parts a failed abort leaves (s3rver
    // does not implement AbortMultipartUpload) are invisible, and a bucket lifecycle rule
    // (AbortIncompleteMultipartUpload) reclaims them.
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId })).catch(() => {});
    throw err;
  }
}

/** At most `max` buffers of `size` bytes; acquire() waits while all of them are out. */
class BufferPool {
  readonly #free: Buffer[] = [];
  readonly #waiting: ((buffer: Buffer) => void)[] = [];
  #created = 0;

  constructor(
    readonly size: number,
    readonly max: number,
  ) {}

  acquire(): Promise<Buffer> {
    const buffer = this.#free.pop();
    if (buffer) return Promise.resolve(buffer);
    if (this.#created < this.max) {
      this.#created++;
      // allocUnsafe does not touch the pages: memory is used only as the part fills.
      return Promise.resolve(Buffer.allocUnsafeSlow(this.size));
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  release(buffer: Buffer): void {
    const next = this.#waiting.shift();
    if (next) next(buffer);
    else this.#free.push(buffer);
  }
}

/**
 * `source` cut into parts of exactly `pool.size` bytes (the last one shorter), each filling
 * a pool buffer: `data` is the part, `buffer` what to release once it is sent.
 */
async function* cutParts(source: Readable, pool: BufferPool): AsyncGenerator<{ data: Buffer; buffer: Buffer }> {
  let buffer: Buffer | undefined;
  let filled = 0;
  // Leaving this loop early (an upload failed) destroys `source`.
  for await (const chunk of source as AsyncIterable<Buffer>) {
    for (let offset = 0; offset < chunk.length; ) {
      buffer ??= await pool.acquire();
      const copied = chunk.copy(buffer, filled, offset);
      filled += copied;
      offset += copied;
      if (filled === buffer.length) {
        yield { data: buffer, buffer };
        buffer = undefined;
        filled = 0;
      }
    }
  }
  if (buffer) yield { data: buffer.subarray(0, filled), buffer };
}
