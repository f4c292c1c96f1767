/** The server could not take a report now (unreachable, 5xx, 429): the same report may be sent again. */
export class Unavailable extends Error {
  constructor(
    message: string,
    /** The server's Retry-After, when it gave one. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 5000;

/**
 * Sends a report until the server acknowledges it: a database outage or a restarting server
 * must not cost a finished job its result. Waits 0.5 s doubling to 5 s (or the server's
 * Retry-After, capped alike), each wait jittered down to half so runners that lost the server
 * together do not return in lockstep. After `patienceMs` the last error is thrown. Only
 * Unavailable is retried; anything else (AttemptGone, a 4xx) is an answer. `stop` (the runner
 * shutting down) ends the retrying at once with the last error.
 */
export async function untilAcknowledged<T>(
  send: () => Promise<T>,
  patienceMs: number,
  onRetry: (err: Unavailable, waitMs: number) => void,
  stop?: AbortSignal,
): Promise<T> {
  const giveUpAt = Date.now() + patienceMs;
  for (let delay = FIRST_DELAY_MS; ; delay = Math.min(delay * 2, MAX_DELAY_MS)) {
    try {
      return await send();
    } catch (err) {
      if (!(err instanceof Unavailable)) throw err;
      if (stop?.aborted) throw new Unavailable(`the runner is stopping: ${err.message}`);
      const wait = Math.min(Math.max(delay, err.retryAfterMs ?? 0), MAX_DELAY_MS) * (0.5 + Math.random() / 2);
      if (Date.now() + wait > giveUpAt) throw new Unavailable(`gave up after ${Math.round(patienceMs / 1000)} s: ${err.message}`);
      onRetry(err, wait);
      await sleep(wait, stop);
    }
  }
}

/** Resolves after `ms`, or as soon as `stop` is aborted. */
function sleep(ms: number, stop: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      stop?.removeEventListener('abort', done);
      resolve();
    }
    stop?.addEventListener('abort', done, { once: true });
  });
}
