/** Why the runtime ended a job itself. */
export type StopReason = 'timeout' | 'cancelled';

export interface StopWatch {
  /** Set once the job was stopped by its deadline or a cancel; undefined while it runs on its own. */
  readonly reason: StopReason | undefined;
  /** Disarms the timer and the abort listener (call when the job ended). */
  dispose(): void;
}

/**
 * Arms a job's deadline and its cancel signal; the first to fire calls `stop` once with its reason.
 * Armed when the job starts, so engine latency is not charged to the job's timeout; a signal
 * that was aborted before that fires at once.
 */
export function watchForStop(options: { signal: AbortSignal; timeoutMs: number }, stop: (reason: StopReason) => void): StopWatch {
  let reason: StopReason | undefined;
  const fire = (why: StopReason): void => {
    if (reason !== undefined) return;
    reason = why;
    stop(why);
  };
  const onAbort = (): void => fire('cancelled');
  const timer = setTimeout(() => fire('timeout'), options.timeoutMs);
  options.signal.addEventListener('abort', onAbort, { once: true });
  if (options.signal.aborted) onAbort();
  return {
    get reason() {
      return reason;
    },
    dispose() {
      clearTimeout(timer);
      options.signal.removeEventListener('abort', onAbort);
    },
  };
}
