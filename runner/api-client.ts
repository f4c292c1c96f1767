import type { Readable } from 'node:stream';
import type { ClaimedJob, CompleteRequest, RunnerSignal } from '../schema/runner-protocol.ts';
import { injectTrace } from './job-trace.ts';
import { Unavailable, untilAcknowledged } from './retry.ts';

/** The server answered that this attempt is no longer ours (cancelled, settled, or given to another runner). */
export class AttemptGone extends Error {}

const REQUEST_TIMEOUT_MS = 60_000;

interface CallInit {
  json?: unknown;
  /** A function for streams: a retried request needs a fresh one. */
  body?: Buffer | (() => Readable);
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/** The runner side of server/http/runner/runner-routes.ts. */
export class RunnerApi {
  /** Aborted when the runner stops: reports are no longer retried, so shutdown is not held up. */
  private readonly stopping = new AbortController();

  constructor(
    private readonly serverUrl: () => string,
    private readonly token: string,
    /** How long a report is retried while the server cannot take it (see untilAcknowledged). */
    private readonly patienceMs: number,
    private readonly logger: { warn(obj: object, msg: string): void },
  ) {}

  stop(): void {
    this.stopping.abort();
  }

  url(path: string): string {
    return this.serverUrl().replace(/\/+$/, '') + path;
  }

  /** One request; `read` consumes the answer inside it, so a connection lost mid-answer is Unavailable too. */
  private async call<T>(method: string, path: string, init: CallInit, read: (response: Response) => Promise<T>): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}`, ...init.headers };
    injectTrace(headers);
    let body: string | Buffer | Readable | undefined;
    if (init.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(init.json);
    } else if (init.body !== undefined) {
      headers['content-type'] = 'application/octet-stream';
      body = typeof init.body === 'function' ? init.body() : init.body;
    }
    let response: Response;
    try {
      response = await fetch(this.url(path), {
        method,
        headers,
        body: body as BodyInit | undefined,
        signal: AbortSignal.timeout(init.timeoutMs ?? REQUEST_TIMEOUT_MS),
        ...(body && typeof body !== 'string' && !Buffer.isBuffer(body) ? { duplex: 'half' } : {}),
      } as RequestInit);
    } catch (err) {
      // No answer (refused, reset, timed out): the server may never have seen the request.
      throw new Unavailable(`${method} ${path}: ${describe(err)}`);
    }
    if (response.status === 409) throw new AttemptGone(await errorText(response));
    if (response.status === 429 || response.status >= 500) {
      const retryAfter = Number(response.headers.get('retry-after'));
      throw new Unavailable(`${method} ${path}: ${response.status} ${await errorText(response)}`, retryAfter > 0 ? retryAfter * 1000 : undefined);
    }
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await errorText(response)}`);
    try {
      return await read(response);
    } catch (err) {
      throw new Unavailable(`${method} ${path}: the answer was cut off: ${describe(err)}`);
    }
  }

  /** A report about a held attempt: sent until acknowledged (the server side is idempotent per attempt). */
  private report<T>(method: string, path: string, init: CallInit, read: (response: Response) => Promise<T>): Promise<T> {
    return untilAcknowledged(
      () => this.call(method, path, init, read),
      this.patienceMs,
      (err, waitMs) => this.logger.warn({ err: err.message, waitMs: Math.round(waitMs) }, 'runner report not acknowledged; retrying'),
      this.stopping.signal,
    );
  }

  async claim(runId: number, attempt: number, runner: string): Promise<ClaimedJob> {
    return this.call('POST', `/api/v1/runner/runs/${runId}/claim`, { json: { attempt, runner } }, (r) => r.json() as Promise<ClaimedJob>);
  }

  /** Sent once: the runner heartbeats periodically, so the next one is the retry. */
  async heartbeat(runId: number, attempt: number): Promise<RunnerSignal> {
    return this.call('POST', `/api/v1/runner/runs/${runId}/heartbeat?attempt=${attempt}`, {}, (r) => r.json() as Promise<RunnerSignal>);
  }

  /** `seq` numbers the attempt's batches from 0, so the server appends a retried batch once. */
  async log(runId: number, attempt: number, seq: number, chunk: Buffer): Promise<RunnerSignal> {
    return this.report('POST', `/api/v1/runner/runs/${runId}/log?attempt=${attempt}&seq=${seq}`, { body: chunk }, (r) => r.json() as Promise<RunnerSignal>);
  }

  async uploadOutput(runId: number, attempt: number, name: string, oid: string, size: number, open: () => Readable): Promise<void> {
    const path = `/api/v1/runner/runs/${runId}/outputs/${name.split('/').map(encodeURIComponent).join('/')}?attempt=${attempt}&oid=${oid}&size=${size}`;
    await this.report('PUT', path, { body: open, headers: { 'content-length': String(size) }, timeoutMs: 3_600_000 }, (r) => r.arrayBuffer());
  }

  /** A dependency's output; the caller streams it to disk. */
  async input(href: string): Promise<Response> {
    return this.call('GET', href, { timeoutMs: 3_600_000 }, async (r) => r);
  }

  async complete(runId: number, request: CompleteRequest): Promise<void> {
    await this.report('POST', `/api/v1/runner/runs/${runId}/complete`, { json: request }, (r) => r.arrayBuffer());
  }
}

function describe(err: unknown): string {
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Error ? `${(err as Error).message} (${cause.message})` : err instanceof Error ? err.message : String(err);
}

async function errorText(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  try {
    return (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? text.slice(0, 500);
  } catch {
    return text.slice(0, 500);
  }
}
