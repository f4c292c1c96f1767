import { createHmac } from 'node:crypto';
import type { Db } from '../db/connect.ts';
import * as webhooksDb from '../db/webhooks.ts';
import type { JobQueue } from './ports.ts';
import type { SecretBox } from './secret-box.ts';

/** One HTTP POST of a webhook, as the sender adapter performs it. */
export interface OutgoingRequest {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly timeoutMs: number;
}

export type SendOutcome =
  | { kind: 'response'; status: number; headers: Record<string, string>; body: string; durationMs: number }
  /** `retryable` is false when the target was refused (SSRF guard, bad URL): trying later changes nothing. */
  | { kind: 'error'; message: string; retryable: boolean; durationMs: number };

/** The network side of webhooks (server/adapters/webhooks): resolves, checks, connects. */
export interface WebhookSender {
  send(request: OutgoingRequest): Promise<SendOutcome>;
  /** Why this URL may not receive webhooks right now (checked on its resolved addresses), or null. */
  vet(url: string): Promise<string | null>;
}

export interface DeliveryOptions {
  readonly timeoutMs: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /** Attempts per delivery, the first one included. */
  readonly maxAttempts: number;
  /** Consecutive failed deliveries after which a hook is switched off. */
  readonly disableAfter: number;
  readonly concurrency: number;
  readonly userAgent: string;
}

export const DELIVER_JOB = 'webhook.deliver';
export const RESPONSE_BODY_LIMIT = 64 * 1024;

/** Exponential backoff with "equal jitter": half fixed, half random, so retries of many hooks spread out. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const exp = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
  return Math.round(exp / 2 + random() * (exp / 2));
}

/** Retry-After as delta-seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | null {
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

export function signature(secret: string, body: string): string {
  return 'sha256=' + createHmac('sha256', secret).update(body).digest('hex');
}

type Verdict = { status: 'delivered' } | { status: 'retry'; retryAfterMs: number | null; reason: string } | { status: 'failed'; reason: string };

/** 2xx delivered; network errors, timeouts, 5xx and 429 are worth retrying; other answers are final. */
export function judge(outcome: SendOutcome): Verdict {
  if (outcome.kind === 'error') return outcome.retryable ? { status: 'retry', retryAfterMs: null, reason: outcome.message } : { status: 'failed', reason: outcome.message };
  const { status } = outcome;
  if (status >= 200 && status < 300) return { status: 'delivered' };
  if (status === 429 || status >= 500) return { status: 'retry', retryAfterMs: parseRetryAfter(outcome.headers['retry-after']), reason: `receiver answered ${status}` };
  if (status >= 300 && status < 400) return { status: 'failed', reason: `receiver answered ${status} (redirects are not followed)` };
  return { status: 'failed', reason: `receiver answered ${status}` };
}

/**
 * Runs delivery attempts from the job queue. Retries are scheduled here, not by the queue: the
 * delay depends on the answer (Retry-After) and each attempt is claimed in the database first,
 * so a duplicated job never sends the same attempt twice.
 */
export class DeliveryWorker {
  constructor(
    private readonly db: Db,
    private readonly queue: JobQueue,
    private readonly box: SecretBox,
    private readonly sender: WebhookSender,
    private readonly options: DeliveryOptions,
    private readonly log: (message: string, fields: Record<string, unknown>) => void = () => {},
  ) {}

  register(): void {
    // attempts: 1 — a thrown error (the database down) is reported, retries are ours.
    this.queue.process(DELIVER_JOB, (data) => this.attempt(data as { deliveryId: string; attempt: number }), { concurrency: this.options.concurrency, attempts: 1 });
  }

  enqueue(deliveryId: string, attempt: number, delayMs = 0): Promise<void> {
    return this.queue.enqueue(DELIVER_JOB, { deliveryId, attempt }, { jobId: `${deliveryId}:${attempt}`, delayMs });
  }

  async attempt({ deliveryId, attempt }: { deliveryId: string; attempt: number }): Promise<void> {
    const row = await webhooksDb.claimAttempt(this.db, deliveryId, attempt);
    if (!row) return; // finished, or this attempt already ran
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      'User-Agent': this.options.userAgent,
      'X-Mlgit-Event': row.event,
      'X-Mlgit-Delivery': row.id,
      'X-Mlgit-Hook-Id': String(row.hook_id ?? ''),
    };
    const secret = row.secret_enc ? this.box.open(row.secret_enc) : null;
    if (secret) headers['X-Hub-Signature-256'] = signature(secret, row.request_body);
    const outcome = await this.sender.send({ url: row.url, headers, body: row.request_body, timeoutMs: this.options.timeoutMs });
    const verdict = judge(outcome);
    const retry = verdict.status === 'retry' && attempt < this.options.maxAttempts;
    const delayMs = verdict.status === 'retry' ? Math.min(this.options.backoffMaxMs, verdict.retryAfterMs ?? backoffMs(attempt, this.options.backoffBaseMs, this.options.backoffMaxMs)) : 0;
    const status = verdict.status === 'delivered' ? 'delivered' : retry ? 'pending' : 'failed';
    // The Signature header is kept: it is an HMAC, and shows the receiver what it should have checked.
    const record: webhooksDb.AttemptRecord = {
      status,
      requestHeaders: headers,
      responseStatus: outcome.kind === 'response' ? outcome.status : null,
      responseHeaders: outcome.kind === 'response' ? outcome.headers : null,
      responseBody: outcome.kind === 'response' ? outcome.body : null,
      error: verdict.status === 'delivered' ? null : verdict.reason,
      durationMs: outcome.durationMs,
      nextAttemptAt: retry ? new Date(Date.now() + delayMs) : null,
    };
    if (retry) {
      await webhooksDb.recordAttempt(this.db, deliveryId, record);
      await this.enqueue(deliveryId, attempt + 1, delayMs);
      return;
    }
    const hookId = row.hook_id;
    const reason = `disabled after ${this.options.disableAfter} consecutive failed deliveries; last: ${verdict.status === 'delivered' ? '' : verdict.reason}`;
    // A delivery's final outcome and its hook's failure count change together: nobody reads a
    // failed delivery of a hook that is not yet counted (or disabled) for it.
    const hook = await this.db.transaction().execute(async (trx) => {
      await webhooksDb.recordAttempt(trx, deliveryId, record);
      if (hookId === null) return undefined;
      if (status === 'delivered') {
        await webhooksDb.resetFailures(trx, hookId);
        return undefined;
      }
      return webhooksDb.recordFailure(trx, hookId, this.options.disableAfter, reason);
    });
    if (status === 'delivered' || hookId === null) return;
    this.log('webhook delivery failed', { deliveryId, hookId, attempts: attempt, disabled: hook ? !hook.active : false });
  }
}
