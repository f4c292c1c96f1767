import type { Db } from '../db/connect.ts';
import * as statusesDb from '../db/statuses.ts';
import { invalid, notFound } from './errors.ts';
import type { GitBackend } from './ports.ts';

export const STATES = ['pending', 'success', 'failure', 'error'] as const;
export type StatusState = (typeof STATES)[number];

export interface StatusInput {
  state: StatusState;
  context: string;
  description?: string;
  targetUrl?: string;
  metrics?: Record<string, number>;
}

export interface CommitStatus {
  readonly id: number;
  readonly sha: string;
  readonly state: StatusState;
  readonly context: string;
  readonly description: string | null;
  readonly targetUrl: string | null;
  readonly metrics: Record<string, number> | null;
  readonly creator: string | null;
  readonly createdAt: Date;
}

/** The slice of WebhookService statuses need (so the two can be built in either order). */
export interface StatusEvents {
  emit(repoId: number, event: 'status', payload: Record<string, unknown>, senderId: number | null): Promise<void>;
}

/** Metrics posted with a status, handed to whoever stores runner metrics (source `ci:<context>`). */
export type OnMetrics = (repoId: number, sha: string, context: string, metrics: Record<string, number>, state: StatusState) => Promise<void>;

export const MAX_METRICS = 100;
const METRIC_NAME = /^[A-Za-z_][A-Za-z0-9_.\-/]{0,99}$/;
const CONTEXT = /^[\x21-\x7e][\x20-\x7e]{0,254}$/;
const SHA = /^[0-9a-f]{40}$/;

function toStatus(row: statusesDb.CommitStatusRow & { creator?: string | null }): CommitStatus {
  return {
    id: row.id,
    sha: row.sha,
    state: row.state as StatusState,
    context: row.context,
    description: row.description,
    targetUrl: row.target_url,
    metrics: row.metrics,
    creator: row.creator ?? null,
    createdAt: row.created_at,
  };
}

/** Validates what CI sends; every bad field gets its own message. */
export function validateStatus(input: Record<string, unknown>): StatusInput {
  const { state, context, description, targetUrl, metrics } = input;
  if (!(STATES as readonly unknown[]).includes(state)) throw invalid(`state must be one of ${STATES.join(', ')}`);
  const ctx = context === undefined ? 'default' : context;
  if (typeof ctx !== 'string' || !CONTEXT.test(ctx)) throw invalid('context must be 1-255 printable ASCII characters');
  if (description !== undefined && (typeof description !== 'string' || description.length > 1000 || description.includes('\0'))) throw invalid('description must be a string of at most 1000 characters');
  if (targetUrl !== undefined) {
    let ok = typeof targetUrl === 'string' && targetUrl.length <= 2048;
    try {
      ok = ok && ['http:', 'https:'].includes(new URL(targetUrl as string).protocol);
    } catch {
      ok = false;
    }
    if (!ok) throw invalid('target_url must be an http(s) URL of at most 2048 characters');
  }
  if (metrics !== undefined) validateMetrics(metrics);
  return { state: state as StatusState, context: ctx, description: description as string | undefined, targetUrl: targetUrl as string | undefined, metrics: metrics as Record<string, number> | undefined };
}

export function validateMetrics(metrics: unknown): asserts metrics is Record<string, number> {
  if (typeof metrics !== 'object' || metrics === null || Array.isArray(metrics)) throw invalid('metrics must be an object of name: number');
  const entries = Object.entries(metrics);
  if (entries.length > MAX_METRICS) throw invalid(`at most ${MAX_METRICS} metrics per status`);
  for (const [name, value] of entries) {
    if (!METRIC_NAME.test(name)) throw invalid(`metric name ${JSON.stringify(name.slice(0, 120))} must start with a letter or _ and use letters, digits, _ . - / (at most 100)`);
    // JSON has no NaN, but 1e400 parses to Infinity.
    if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(`metric "${name}" must be a finite number`);
  }
}

/** Combined state, as GitHub computes it: any failure/error wins, then pending (or none), else success. */
export function combinedState(states: readonly StatusState[]): StatusState {
  if (states.some((s) => s === 'failure' || s === 'error')) return 'failure';
  if (states.length === 0 || states.some((s) => s === 'pending')) return 'pending';
  return 'success';
}

/** Commit statuses from external CI and from mlgit's own runs (`mlgit/<job>`, `mlgit/compare`). */
export class StatusService {
  private onMetrics: OnMetrics | null;

  constructor(
    private readonly db: Db,
    private readonly git: GitBackend,
    private readonly events: StatusEvents,
    onMetrics?: OnMetrics,
  ) {
    this.onMetrics = onMetrics ?? null;
  }

  /** The composition root connects metric storage once the runs tables exist. */
  setOnMetrics(onMetrics: OnMetrics): void {
    this.onMetrics = onMetrics;
  }

  async set(repoId: number, sha: string, status: StatusInput, creatorId: number | null): Promise<CommitStatus> {
    if (!SHA.test(sha)) throw invalid('sha must be 40 lowercase hex characters');
    const valid = validateStatus(status as unknown as Record<string, unknown>);
    if ((await this.git.resolveCommit(repoId, sha)) !== sha) throw invalid(`commit ${sha} does not exist in this repository`);
    const row = await statusesDb.insertStatus(this.db, {
      repoId,
      sha,
      state: valid.state,
      context: valid.context,
      description: valid.description ?? null,
      targetUrl: valid.targetUrl ?? null,
      metrics: valid.metrics && Object.keys(valid.metrics).length > 0 ? valid.metrics : null,
      creatorId,
    });
    const created = toStatus(row);
    if (created.metrics && this.onMetrics) await this.onMetrics(repoId, sha, created.context, created.metrics, created.state);
    await this.events.emit(
      repoId,
      'status',
      { id: created.id, sha, state: created.state, context: created.context, description: created.description, target_url: created.targetUrl, metrics: created.metrics, created_at: created.createdAt.toISOString() },
      creatorId,
    );
    return created;
  }

  async commitOf(repoId: number, ref: string): Promise<string> {
    const sha = await this.git.resolveCommit(repoId, ref);
    if (!sha) throw notFound(`ref "${ref}"`);
    return sha;
  }

  async list(repoId: number, sha: string, page: { page: number; perPage: number }) {
    const { rows, total } = await statusesDb.listStatuses(this.db, repoId, sha, page.perPage, (page.page - 1) * page.perPage);
    return { statuses: rows.map(toStatus), total };
  }

  async combined(repoId: number, sha: string) {
    const latest = (await statusesDb.latestPerContext(this.db, repoId, sha)).map(toStatus);
    return { state: combinedState(latest.map((s) => s.state)), sha, statuses: latest };
  }
}
