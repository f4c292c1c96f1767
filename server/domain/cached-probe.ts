/** How long a probe may take before the service counts as unreachable. */
const PROBE_TIMEOUT_MS = 2000;
/** A positive answer is trusted this long: a burst of requests costs one round trip. */
const TRUST_UP_MS = 2000;

/**
 * Whether a backing service is up, asked at most once per TRUST_UP_MS while it is, and on every
 * call while it is not (so the first request after it is back sees it back). Concurrent callers
 * share one probe in flight.
 */
export class CachedProbe {
  private upUntil = 0;
  private inFlight: Promise<boolean> | null = null;

  constructor(
    private readonly probe: (timeoutMs: number) => Promise<boolean>,
    private readonly now: () => number = Date.now,
  ) {}

  up(): Promise<boolean> {
    if (this.now() < this.upUntil) return Promise.resolve(true);
    this.inFlight ??= this.probe(PROBE_TIMEOUT_MS)
      .then((up) => {
        if (up) this.upUntil = this.now() + TRUST_UP_MS;
        return up;
      })
      .finally(() => (this.inFlight = null));
    return this.inFlight;
  }
}
