/**
 * Fires `onTimeout` when `progress()` (bytes moved so far) stays the same for `idleMs`, or
 * after `totalMs` in any case: Fastify disables Node's request timeout, so without this a
 * slow or stalled client holds a git process forever. Polling a byte counter keeps the hot
 * path free of per-chunk bookkeeping.
 */
export function watchdog(limits: { idleMs: number; totalMs: number }, progress: () => number, onTimeout: (reason: 'idle' | 'total') => void) {
  const started = Date.now();
  let lastActivity = started;
  let lastProgress = progress();
  const timer = setInterval(
    () => {
      const now = Date.now();
      const current = progress();
      if (current !== lastProgress) {
        lastProgress = current;
        lastActivity = now;
      }
      const reason = now - started > limits.totalMs ? 'total' : now - lastActivity > limits.idleMs ? 'idle' : null;
      if (!reason) return;
      clearInterval(timer);
      onTimeout(reason);
    },
    Math.min(1000, Math.max(50, Math.floor(limits.idleMs / 4))),
  );
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
