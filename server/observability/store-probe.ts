import { setTimeout as sleep } from 'node:timers/promises';
import type { ObjectStore } from '../domain/ports.ts';

/** A well-formed oid that no stored object has (the sha256 of nothing stored is never all zeros). */
const PROBE_OID = '0'.repeat(64);

/**
 * Readiness of the object store: a stat of an absent object is one HEAD request to S3 (or one
 * stat in the data dir). Any answer, "absent" included, means the store is reachable; an error
 * or no answer within `timeoutMs` means it is not.
 */
export async function storeReachable(store: ObjectStore, timeoutMs: number): Promise<boolean> {
  const stopTimer = new AbortController();
  const answered = store.stat(PROBE_OID).then(
    () => true,
    () => false,
  );
  const timedOut = sleep(timeoutMs, false, { signal: stopTimer.signal }).catch(() => false);
  const reachable = await Promise.race([answered, timedOut]);
  stopTimer.abort();
  return reachable;
}
