import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { invalid } from '../../domain/errors.ts';

/**
 * Passes bytes through unchanged while counting them and hashing them with sha256. It errors
 * (DomainError 'invalid') as soon as more bytes than declared arrive, and at the end when the
 * size or hash differs. The error replaces end-of-stream, so a consumer that commits only on a
 * clean end (rename, CompleteMultipartUpload) never commits unverified bytes.
 */
export class VerifyingStream extends Transform {
  readonly #oid: string;
  readonly #size: number;
  readonly #hash = createHash('sha256');
  #received = 0;

  constructor(oid: string, size: number) {
    super();
    this.#oid = oid;
    this.#size = size;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#received += chunk.length;
    if (this.#received > this.#size) {
      callback(invalid(`size mismatch: expected ${this.#size} bytes, received more`));
      return;
    }
    this.#hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.#received !== this.#size) {
      callback(invalid(`size mismatch: expected ${this.#size} bytes, received ${this.#received}`));
      return;
    }
    const actual = this.#hash.digest('hex');
    if (actual !== this.#oid) {
      callback(invalid(`hash mismatch: expected sha256 ${this.#oid}, received ${actual}`));
      return;
    }
    callback();
  }
}
