import { randomUUID } from 'node:crypto';
import type { Db } from '../db/connect.ts';
import * as reposDb from '../db/repos.ts';
import * as usersDb from '../db/users.ts';
import * as webhooksDb from '../db/webhooks.ts';
import { toUser } from './accounts.ts';
import { invalid, notFound } from './errors.ts';
import type { PushContext } from './hook-sessions.ts';
import { type Principal, type RefUpdate, ZERO_SHA } from './model.ts';
import type { GitBackend, JobQueue } from './ports.ts';
import type { RepoService } from './repos.ts';
import type { SecretBox } from './secret-box.ts';
import { DeliveryWorker, type DeliveryOptions, type WebhookSender } from './webhook-delivery.ts';
import { PUSH_COMMIT_LIMIT, pushPayload, repositoryPayload, senderPayload, WEBHOOK_EVENTS, type WebhookEvent } from './webhook-payloads.ts';
import { toRepo } from './repos.ts';

export type { WebhookEvent };

export interface Hook {
  readonly id: number;
  readonly repoId: number;
  readonly url: string;
  readonly hasSecret: boolean;
  readonly events: WebhookEvent[];
  readonly active: boolean;
  readonly consecutiveFailures: number;
  readonly disabledReason: string | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface Delivery {
  readonly id: string;
  readonly hookId: number | null;
  readonly event: string;
  readonly status: 'pending' | 'delivered' | 'failed';
  readonly attempts: number;
  readonly url: string;
  readonly requestHeaders: Record<string, string> | null;
  readonly requestBody: string;
  readonly responseStatus: number | null;
  readonly responseHeaders: Record<string, string> | null;
  readonly responseBody: string | null;
  readonly error: string | null;
  readonly durationMs: number | null;
  readonly redeliveryOf: string | null;
  readonly createdAt: Date;
  readonly lastAttemptAt: Date | null;
  readonly nextAttemptAt: Date | null;
}

export interface HookInput {
  url?: unknown;
  secret?: unknown;
  events?: unknown;
  active?: unknown;
  content_type?: unknown;
}

export interface WebhookOptions extends DeliveryOptions {
  /** Base of the html/clone URLs inside payloads. */
  readonly publicUrl: () => string;
  readonly retentionDays: number;
}

const PUSH_JOB = 'webhook.push';
const MAX_HOOKS_PER_REPO = 50;
/** How long past due a pending delivery must be before it counts as lost. */
const STALL_MARGIN_MS = 60_000;

function toHook(row: webhooksDb.WebhookRow): Hook {
  return {
    id: row.id,
    repoId: row.repo_id,
    url: row.url,
    hasSecret: row.secret_enc !== null,
    events: row.events as WebhookEvent[],
    active: row.active,
    consecutiveFailures: row.consecutive_failures,
    disabledReason: row.disabled_reason,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toDelivery(row: webhooksDb.WebhookDeliveryRow): Delivery {
  return {
    id: row.id,
    hookId: row.hook_id,
    event: row.event,
    status: row.status,
    attempts: row.attempts,
    url: row.url,
    requestHeaders: row.request_headers,
    requestBody: row.request_body,
    responseStatus: row.response_status,
    responseHeaders: row.response_headers,
    responseBody: row.response_body,
    error: row.error,
    durationMs: row.duration_ms,
    redeliveryOf: row.redelivery_of,
    createdAt: row.created_at,
    lastAttemptAt: row.last_attempt_at,
    nextAttemptAt: row.next_attempt_at,
  };
}

function parseUrl(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 2048) throw invalid('url must be an http(s) URL of at most 2048 characters');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid('url is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid('url must use http or https');
  // Credentials in the URL would be shown to everyone who may read the hook.
  if (url.username || url.password) throw invalid('url must not contain credentials; use the secret to authenticate deliveries');
  // The normalised form: "0x7f.1" is stored (and checked) as 127.0.0.1.
  return url.toString();
}

function parseSecret(value: unknown): string | null {
  if (value === null || value === '') return null;
  // eslint-disable-next-line no-control-regex -- control characters cannot be typed into a receiver's config
  if (typeof value !== 'string' || value.length > 256 || /[\x00-\x1f\x7f]/.test(value)) throw invalid('secret must be a string of at most 256 printable characters');
  return value;
}

function parseEvents(value: unknown): WebhookEvent[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > WEBHOOK_EVENTS.length) throw invalid(`events must be a non-empty list of: ${WEBHOOK_EVENTS.join(', ')}`);
  for (const event of value) if (!(WEBHOOK_EVENTS as readonly unknown[]).includes(event)) throw invalid(`unknown event ${JSON.stringify(event)}; known: ${WEBHOOK_EVENTS.join(', ')}`);
  return [...new Set(value as WebhookEvent[])];
}

function parseActive(value: unknown): boolean {
  if (typeof value !== 'boolean') throw invalid('active must be true or false');
  return value;
}

/** Webhooks of a repository: configuration, fan-out of events to deliveries, the delivery log. */
export class WebhookService {
  private readonly worker: DeliveryWorker;
  private pruneTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly db: Db,
    private readonly queue: JobQueue,
    private readonly repos: RepoService,
    private readonly git: GitBackend,
    private readonly box: SecretBox,
    private readonly sender: WebhookSender,
    private readonly options: WebhookOptions,
    log?: (message: string, fields: Record<string, unknown>) => void,
  ) {
    this.worker = new DeliveryWorker(db, queue, box, sender, options, log);
  }

  registerWorkers(): void {
    this.worker.register();
    this.queue.process(PUSH_JOB, (data) => this.emitPush(data as { repoId: number; pusherId: number; updates: RefUpdate[] }), { concurrency: 2, attempts: 3 });
  }

  private async admin(principal: Principal, owner: string, name: string) {
    return (await this.repos.authorize(principal, owner, name, 'admin')).repo;
  }

  private async hookOf(principal: Principal, owner: string, name: string, id: number) {
    const repo = await this.admin(principal, owner, name);
    const row = await webhooksDb.findHook(this.db, repo.id, id);
    if (!row) throw notFound('hook');
    return { repo, row };
  }

  private async vet(url: string): Promise<void> {
    const reason = await this.sender.vet(url);
    if (reason) throw invalid(`url refused: ${reason}`);
  }

  async create(principal: Principal, owner: string, name: string, input: HookInput): Promise<Hook> {
    const repo = await this.admin(principal, owner, name);
    const url = parseUrl(input.url);
    const secret = input.secret === undefined ? null : parseSecret(input.secret);
    const events = input.events === undefined ? (['push'] as WebhookEvent[]) : parseEvents(input.events);
    const active = input.active === undefined ? true : parseActive(input.active);
    if (input.content_type !== undefined && input.content_type !== 'json') throw invalid('content_type must be "json"');
    await this.vet(url);
    if ((await webhooksDb.listHooks(this.db, repo.id, 1, 0)).total >= MAX_HOOKS_PER_REPO) throw invalid(`a repository may have at most ${MAX_HOOKS_PER_REPO} hooks`);
    const row = await webhooksDb.insertHook(this.db, { repoId: repo.id, url, secretEnc: secret ? this.box.seal(secret) : null, events, active, creatorId: principal.user.id });
    const hook = toHook(row);
    // GitHub's ping: tells the receiver (and the delivery log) that the hook works.
    if (hook.active) await this.deliver([row], repo.id, 'ping', { zen: 'Keep your models versioned.', hook_id: hook.id, hook: { id: hook.id, url: hook.url, events: hook.events, active: hook.active } }, principal.user.id);
    return hook;
  }

  async list(principal: Principal, owner: string, name: string, page: { page: number; perPage: number }) {
    const repo = await this.admin(principal, owner, name);
    const { rows, total } = await webhooksDb.listHooks(this.db, repo.id, page.perPage, (page.page - 1) * page.perPage);
    return { hooks: rows.map(toHook), total };
  }

  async get(principal: Principal, owner: string, name: string, id: number): Promise<Hook> {
    return toHook((await this.hookOf(principal, owner, name, id)).row);
  }

  async update(principal: Principal, owner: string, name: string, id: number, patch: HookInput): Promise<Hook> {
    const { row } = await this.hookOf(principal, owner, name, id);
    const changes: Parameters<typeof webhooksDb.updateHook>[2] = {};
    if (patch.url !== undefined) {
      changes.url = parseUrl(patch.url);
      await this.vet(changes.url);
    }
    if (patch.secret !== undefined) {
      const secret = parseSecret(patch.secret);
      changes.secret_enc = secret ? this.box.seal(secret) : null;
    }
    if (patch.events !== undefined) changes.events = parseEvents(patch.events);
    if (patch.content_type !== undefined && patch.content_type !== 'json') throw invalid('content_type must be "json"');
    if (patch.active !== undefined) {
      changes.active = parseActive(patch.active);
      // Re-enabling starts a fresh streak and clears the reason it was switched off.
      if (changes.active) Object.assign(changes, { consecutive_failures: 0, disabled_reason: null });
    }
    const updated = await webhooksDb.updateHook(this.db, row.id, changes);
    if (!updated) throw notFound('hook');
    return toHook(updated);
  }

  async remove(principal: Principal, owner: string, name: string, id: number): Promise<Hook> {
    const { repo, row } = await this.hookOf(principal, owner, name, id);
    if (!(await webhooksDb.deleteHook(this.db, repo.id, id))) throw notFound('hook');
    return toHook(row);
  }

  async deliveries(principal: Principal, owner: string, name: string, id: number, page: { page: number; perPage: number }) {
    const { row } = await this.hookOf(principal, owner, name, id);
    const { rows, total } = await webhooksDb.listDeliveries(this.db, row.id, page.perPage, (page.page - 1) * page.perPage);
    return { deliveries: rows.map(toDelivery), total };
  }

  async delivery(principal: Principal, owner: string, name: string, id: number, deliveryId: string): Promise<Delivery> {
    const { row } = await this.hookOf(principal, owner, name, id);
    const delivery = await webhooksDb.findDelivery(this.db, row.id, deliveryId);
    if (!delivery) throw notFound('delivery');
    return toDelivery(delivery);
  }

  /** Sends a logged delivery's exact body again, as a new delivery (new id) to the hook's current URL and secret. */
  async redeliver(principal: Principal, owner: string, name: string, id: number, deliveryId: string): Promise<Delivery> {
    const { row } = await this.hookOf(principal, owner, name, id);
    const original = await webhooksDb.findDelivery(this.db, row.id, deliveryId);
    if (!original) throw notFound('delivery');
    const newId = randomUUID();
    await webhooksDb.insertDeliveries(this.db, [
      { id: newId, hookId: row.id, repoId: row.repo_id, event: original.event, url: row.url, secretEnc: row.secret_enc, requestBody: original.request_body, redeliveryOf: original.id },
    ]);
    await this.worker.enqueue(newId, 1);
    return toDelivery((await webhooksDb.findDelivery(this.db, row.id, newId))!);
  }

  /**
   * Fans an event out to every active hook of the repo subscribed to it: one delivery each,
   * queued. `repository` and `sender` are added here. Cheap when the repo has no such hook.
   */
  async emit(repoId: number, event: WebhookEvent, payload: Record<string, unknown>, senderId: number | null): Promise<void> {
    const hooks = await webhooksDb.activeHooksFor(this.db, repoId, event);
    if (hooks.length > 0) await this.deliver(hooks, repoId, event, payload, senderId);
  }

  private async deliver(hooks: webhooksDb.WebhookRow[], repoId: number, event: WebhookEvent, payload: Record<string, unknown>, senderId: number | null): Promise<void> {
    const repoRow = await reposDb.findRepoById(this.db, repoId);
    if (!repoRow) return;
    const senderRow = senderId === null ? undefined : await usersDb.findUserById(this.db, senderId);
    const body = JSON.stringify({
      ...payload,
      repository: repositoryPayload(toRepo(repoRow), this.options.publicUrl()),
      sender: senderPayload(senderRow ? toUser(senderRow) : null),
    });
    const deliveries = hooks.map((hook) => ({ id: randomUUID(), hookId: hook.id, repoId, event, url: hook.url, secretEnc: hook.secret_enc, requestBody: body }));
    await webhooksDb.insertDeliveries(this.db, deliveries);
    for (const delivery of deliveries) await this.worker.enqueue(delivery.id, 1);
  }

  /** post-receive's listener: one enqueue, nothing else, so the pusher does not wait for payloads. */
  async onPushed(context: PushContext, updates: readonly RefUpdate[]): Promise<void> {
    await this.queue.enqueue(PUSH_JOB, { repoId: context.repoId, pusherId: context.pusherId, updates });
  }

  /** One push event per updated ref, as GitHub sends them, with the commits the push added. */
  private async emitPush({ repoId, pusherId, updates }: { repoId: number; pusherId: number; updates: RefUpdate[] }): Promise<void> {
    if ((await webhooksDb.activeHooksFor(this.db, repoId, 'push')).length === 0) return;
    const repo = await this.repos.byId(repoId);
    if (!repo) return;
    const pusherRow = await usersDb.findUserById(this.db, pusherId);
    const repoUrl = `${this.options.publicUrl()}/${repo.owner}/${repo.name}`;
    for (const update of updates) {
      let newCommits: Awaited<ReturnType<GitBackend['commits']>> = [];
      if (update.newSha !== ZERO_SHA) {
        const log = await this.git.commits(repoId, update.newSha, PUSH_COMMIT_LIMIT + 1);
        const stop = log.findIndex((c) => c.sha === update.oldSha);
        newCommits = (stop === -1 ? log : log.slice(0, stop)).slice(0, PUSH_COMMIT_LIMIT);
      }
      const payload = pushPayload({ ref: update.ref, before: update.oldSha, after: update.newSha, zeroSha: ZERO_SHA, newCommits, pusher: pusherRow ? toUser(pusherRow) : null, repoUrl });
      await this.emit(repoId, 'push', payload, pusherId);
    }
  }

  /** Deletes finished deliveries older than the retention; returns how many. */
  prune(now = new Date()): Promise<number> {
    return webhooksDb.pruneDeliveries(this.db, new Date(now.getTime() - this.options.retentionDays * 86_400_000));
  }

  /**
   * Re-enqueues pending deliveries whose job was lost (a crash between attempts, or a restart
   * with the in-process queue). Safe to run any time: the attempt claim makes a duplicate job a no-op.
   */
  async recoverStalled(now = new Date()): Promise<number> {
    const stalled = await webhooksDb.stalledDeliveries(this.db, new Date(now.getTime() - STALL_MARGIN_MS - this.options.timeoutMs), 1000);
    for (const { id, attempts } of stalled) await this.worker.enqueue(id, attempts + 1);
    return stalled.length;
  }

  /** Housekeeping on a timer: recover lost deliveries now and then, prune the log. */
  startHousekeeping(intervalMs: number, onError: (err: unknown) => void): void {
    const run = () => void Promise.all([this.recoverStalled(), this.prune()]).catch(onError);
    run();
    this.pruneTimer = setInterval(run, intervalMs);
    this.pruneTimer.unref();
  }

  stopHousekeeping(): void {
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    this.pruneTimer = null;
  }
}
