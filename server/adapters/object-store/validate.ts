import { invalid } from '../../domain/errors.ts';

/**
 * Input checks shared by the object stores. Callers validate too; the stores check again
 * because an oid becomes a file path or an S3 key here (path traversal, key injection).
 */
const OID = /^[0-9a-f]{64}$/;

export function assertOid(oid: string): void {
  if (typeof oid !== 'string' || !OID.test(oid)) throw invalid('oid must be 64 lowercase hex characters (sha256)');
}

export function assertSize(size: number): void {
  if (!Number.isSafeInteger(size) || size < 0) throw invalid('size must be a non-negative integer');
}

/** Byte ranges are inclusive, like HTTP `Range: bytes=start-end`. */
export function assertRange(range: { start: number; end: number } | undefined): void {
  if (range === undefined) return;
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw invalid('range must be integers with 0 <= start <= end');
  }
}

/** `ab/cd/abcd...`: two levels of fan-out keep directories (and S3 listings) small. */
export const shardedPath = (oid: string): string => `${oid.slice(0, 2)}/${oid.slice(2, 4)}/${oid}`;
