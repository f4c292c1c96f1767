import { performance } from 'node:perf_hooks';

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes of this machine. */
export function epochNow(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * Where one git request's server time goes, as named durations in milliseconds: a Server-Timing
 * header would be the usual place, but git never shows headers and a push's hooks run after its
 * response has begun. It is logged at debug level ("git timings") when the request's git process
 * exits; for a push, the hook API adds the hooks' phases through the push's hook secret.
 * `npm run bench:push` reads these lines for its breakdown.
 */
export class GitTimeline {
  private readonly phases = new Map<string, number>();
  /** When the last mark was set (epoch ms), for phases measured from one event to the next. */
  private last = epochNow();

  add(phase: string, ms: number): void {
    this.phases.set(phase, (this.phases.get(phase) ?? 0) + ms);
  }

  async time<T>(phase: string, work: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await work();
    } finally {
      this.add(phase, performance.now() - started);
    }
  }

  /** A timer for the steps inside one phase, recorded as `<phase>/<step>` (not added to the phase sum). */
  within(phase: string): { time<T>(step: string, work: () => Promise<T>): Promise<T> } {
    return { time: (step, work) => this.time(`${phase}/${step}`, work) };
  }

  /**
   * Records the time from the previous mark to `at` (default now) as `phase`: consecutive marks
   * split the request into phases that add up to its whole time. `at` may come from another
   * process (a hook's start), since epoch times of one machine compare.
   */
  mark(phase: string, at = epochNow()): void {
    this.add(phase, at - this.last);
    this.last = at;
  }

  toJSON(): Record<string, number> {
    return Object.fromEntries([...this.phases].map(([phase, ms]) => [phase, Math.round(ms * 10) / 10]));
  }
}
