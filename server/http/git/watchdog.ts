/**
 * Fires `onTimeout` when no bytes moved for `idleMs` or the process ran past `totalMs`:
 * Fastify disables Node's request timeout, so without this a slow client holds a git
 * process forever. Callers `touch()` on every chunk in either direction.
 */
export function watchdog(limits: { idleMs: number; totalMs: number }, onTimeout: (reason: 'idle' | 'total') => void) {
  const started = Date.now();
  let lastActivity = started;
  const timer = setInterval(
    () => {
      const now = Date.now();
      const reason = now - started > limits.totalMs ? 'total' : now - lastActivity > limits.idleMs ? 'idle' : null;
      if (!reason) return;
      clearInterval(timer);
      onTimeout(reason);
    },
    Math.min(1000, Math.max(50, Math.floor(limits.idleMs / 4))),
  );
  timer.unref();
  return {
    touch: () => {
      lastActivity = Date.now();
    },
    stop: () => clearInterval(timer),
  };
}
