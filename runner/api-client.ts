import type { Readable } from 'node:stream';
import type { ClaimedJob, CompleteRequest, RunnerSignal } from '../schema/runner-protocol.ts';

/** The server answered that this attempt is no longer ours (cancelled, settled, or given to another runner). */
export class AttemptGone extends Error {}

const REQUEST_TIMEOUT_MS = 60_000;

/** The runner side of server/http/runner/runner-routes.ts. */
export class RunnerApi {
  constructor(
    private readonly serverUrl: () => string,
    private readonly token: string,
  ) {}

  url(path: string): string {
    return this.serverUrl().replace(/\/+$/, '') + path;
  }

  private async call(method: string, path: string, init: { json?: unknown; body?: Buffer | Readable; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<Response> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}`, ...init.headers };
    let body: string | Buffer | Readable | undefined;
    if (init.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(init.json);
    } else if (init.body !== undefined) {
      headers['content-type'] = 'application/octet-stream';
      body = init.body;
    }
    const response = await fetch(this.url(path), {
      method,
      headers,
      body: body as BodyInit | undefined,
      signal: AbortSignal.timeout(init.timeoutMs ?? REQUEST_TIMEOUT_MS),
      ...(body && typeof body !== 'string' && !Buffer.isBuffer(body) ? { duplex: 'half' } : {}),
    } as RequestInit);
    if (response.status === 409) {
      throw new AttemptGone(await errorText(response));
    }
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await errorText(response)}`);
    return response;
  }

  async claim(runId: number, attempt: number, runner: string): Promise<ClaimedJob> {
    return (await this.call('POST', `/api/v1/runner/runs/${runId}/claim`, { json: { attempt, runner } })).json() as Promise<ClaimedJob>;
  }

  async heartbeat(runId: number, attempt: number): Promise<RunnerSignal> {
    return (await this.call('POST', `/api/v1/runner/runs/${runId}/heartbeat?attempt=${attempt}`)).json() as Promise<RunnerSignal>;
  }

  async log(runId: number, attempt: number, chunk: Buffer): Promise<RunnerSignal> {
    return (await this.call('POST', `/api/v1/runner/runs/${runId}/log?attempt=${attempt}`, { body: chunk })).json() as Promise<RunnerSignal>;
  }

  async uploadOutput(runId: number, attempt: number, name: string, oid: string, size: number, body: Readable): Promise<void> {
    const path = `/api/v1/runner/runs/${runId}/outputs/${name.split('/').map(encodeURIComponent).join('/')}?attempt=${attempt}&oid=${oid}&size=${size}`;
    await (await this.call('PUT', path, { body, headers: { 'content-length': String(size) }, timeoutMs: 3_600_000 })).arrayBuffer();
  }

  /** A dependency's output; the caller streams it to disk. */
  async input(href: string): Promise<Response> {
    return this.call('GET', href, { timeoutMs: 3_600_000 });
  }

  async complete(runId: number, request: CompleteRequest): Promise<void> {
    await (await this.call('POST', `/api/v1/runner/runs/${runId}/complete`, { json: request })).arrayBuffer();
  }
}

async function errorText(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  try {
    return (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? text.slice(0, 500);
  } catch {
    return text.slice(0, 500);
  }
}
