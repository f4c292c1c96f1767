import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

/** jsonb: written as JSON text (pg would turn a JS array into a Postgres array), read back parsed. */
type Json<T> = ColumnType<T, string | null, string | null>;

type CreatedAt = ColumnType<Date, Date | undefined, never>;
type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export interface UsersTable {
  id: Generated<number>;
  username: string;
  email: string | null;
  password_hash: string;
  is_admin: Generated<boolean>;
  created_at: CreatedAt;
  credential_version: Generated<number>;
  suspended_at: Timestamp | null;
}

export interface TokensTable {
  id: Generated<number>;
  user_id: number;
  name: string;
  token_hash: string;
  scopes: string[];
  created_at: CreatedAt;
  last_used_at: Timestamp | null;
}

export interface ReposTable {
  id: Generated<number>;
  owner_id: number;
  name: string;
  description: Generated<string>;
  private: Generated<boolean>;
  kind: Generated<string>;
  default_branch: Generated<string>;
  protected_branches: Generated<string[]>;
  fork_parent_id: number | null;
  created_at: CreatedAt;
  updated_at: Timestamp;
  pushed_at: Timestamp | null;
  /** bigint: Postgres hands it over as a string. */
  downloads: Generated<string | number>;
  search: ColumnType<string, never, never>;
}

export interface CollaboratorsTable {
  repo_id: number;
  user_id: number;
  role: string;
  created_at: CreatedAt;
}

export interface PushesTable {
  id: Generated<number>;
  repo_id: number;
  pusher_id: number | null;
  ref: string;
  old_sha: string;
  new_sha: string;
  created_at: CreatedAt;
}

export interface PushOutboxTable {
  id: Generated<number>;
  session: string;
  repo_id: number;
  pusher_id: number | null;
  ref: string;
  old_sha: string;
  new_sha: string;
  push_options: Json<string[]>;
  state: Generated<'pending' | 'recorded'>;
  claimed_until: Timestamp | null;
  created_at: CreatedAt;
}

export interface RunLogChunksTable {
  run_id: number;
  /** bigint: pg returns it as a string. */
  start: string | number;
  length: number;
  data: Buffer;
  batch: string | null;
}

export interface LfsObjectsTable {
  oid: string;
  /** bigint: pg returns it as a string. */
  size: ColumnType<string, number, never>;
  created_at: CreatedAt;
}

export interface LfsRepoObjectsTable {
  repo_id: number;
  oid: string;
  uploader_id: number | null;
  created_at: CreatedAt;
}

export interface LfsLocksTable {
  id: Generated<number>;
  repo_id: number;
  path: string;
  ref: string | null;
  owner_id: number;
  locked_at: CreatedAt;
}

export interface RunsTable {
  id: Generated<number>;
  repo_id: number;
  commit_sha: string;
  ref: string | null;
  dispatch_id: string;
  project: string;
  job_id: string;
  job: string;
  kind: string;
  trigger: string;
  status: string;
  attempt: Generated<number>;
  spec: ColumnType<unknown, string, string>;
  depends_on: Generated<number[]>;
  cache_key: string | null;
  cached_from: number | null;
  created_by: number | null;
  runner: string | null;
  exit_code: number | null;
  message: string | null;
  metric_problems: ColumnType<string[], string | undefined, string>;
  comparison: ColumnType<unknown, string | null | undefined, string | null>;
  cancel_requested: Generated<boolean>;
  created_at: CreatedAt;
  enqueued_at: Timestamp | null;
  started_at: Timestamp | null;
  heartbeat_at: Timestamp | null;
  finished_at: Timestamp | null;
}

export interface RunMetricsTable {
  run_id: number;
  key: string;
  value: number;
}

export interface RunMetricPointsTable {
  run_id: number;
  key: string;
  /** bigint: pg returns it as a string. */
  step: ColumnType<string, number, never>;
  value: number;
}

export interface RunOutputsTable {
  run_id: number;
  name: string;
  type: string;
  oid: string;
  size: ColumnType<string, number, never>;
}

export interface WebhooksTable {
  id: Generated<number>;
  repo_id: number;
  url: string;
  secret_enc: string | null;
  events: string[];
  active: Generated<boolean>;
  content_type: Generated<string>;
  consecutive_failures: Generated<number>;
  disabled_reason: string | null;
  creator_id: number | null;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface WebhookDeliveriesTable {
  id: string;
  hook_id: number | null;
  repo_id: number | null;
  event: string;
  url: string;
  secret_enc: string | null;
  request_body: string;
  request_headers: Json<Record<string, string> | null>;
  status: Generated<'pending' | 'delivered' | 'failed'>;
  attempts: Generated<number>;
  response_status: number | null;
  response_headers: Json<Record<string, string> | null>;
  response_body: string | null;
  error: string | null;
  duration_ms: number | null;
  redelivery_of: string | null;
  created_at: CreatedAt;
  last_attempt_at: Timestamp | null;
  next_attempt_at: Timestamp | null;
}

export interface CommitStatusesTable {
  id: Generated<number>;
  repo_id: number;
  sha: string;
  state: string;
  context: string;
  description: string | null;
  target_url: string | null;
  metrics: Json<Record<string, number> | null>;
  creator_id: number | null;
  created_at: CreatedAt;
}

export interface AuditLogTable {
  /** bigint: pg returns it as a string. */
  id: ColumnType<string, never, never>;
  action: string;
  actor_id: number | null;
  actor_name: string | null;
  target: string | null;
  details: Json<Record<string, unknown> | null>;
  address: string | null;
  created_at: CreatedAt;
}

export interface ModelVersionsTable {
  id: Generated<number>;
  repo_id: number;
  model: string;
  version: number;
  run_id: number | null;
  job: string;
  commit_sha: string;
  path: string;
  format: string;
  oid: string;
  /** bigint: pg returns it as a string. */
  size: ColumnType<string, number, never>;
  params: Json<Record<string, string>>;
  metrics: Json<Record<string, number>>;
  goals: Json<Record<string, 'maximize' | 'minimize'>>;
  datasets: Json<{ name: string; repo: string; commit: string }[]>;
  created_by: number | null;
  created_at: CreatedAt;
  /** What registration found in the file (server/domain/registry/formats/inspect.ts). */
  inspection: Json<unknown>;
}

export interface ModelAliasesTable {
  repo_id: number;
  model: string;
  alias: string;
  version: number;
  updated_by: number | null;
  updated_at: Timestamp;
}

export interface ModelAliasHistoryTable {
  id: Generated<number>;
  repo_id: number;
  model: string;
  alias: string;
  from_version: number | null;
  to_version: number;
  actor_id: number | null;
  actor_name: string | null;
  reason: string | null;
  overridden: Json<string[]>;
  created_at: CreatedAt;
}

export interface ModelApprovalsTable {
  repo_id: number;
  model: string;
  version: number;
  alias: string;
  user_id: number;
  created_at: CreatedAt;
}

export interface Database {
  runs: RunsTable;
  run_metrics: RunMetricsTable;
  run_metric_points: RunMetricPointsTable;
  run_outputs: RunOutputsTable;
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
  commit_statuses: CommitStatusesTable;
  audit_log: AuditLogTable;
  lfs_objects: LfsObjectsTable;
  lfs_repo_objects: LfsRepoObjectsTable;
  lfs_locks: LfsLocksTable;
  users: UsersTable;
  tokens: TokensTable;
  repos: ReposTable;
  collaborators: CollaboratorsTable;
  pushes: PushesTable;
  push_outbox: PushOutboxTable;
  run_log_chunks: RunLogChunksTable;
  model_versions: ModelVersionsTable;
  model_aliases: ModelAliasesTable;
  model_alias_history: ModelAliasHistoryTable;
  model_approvals: ModelApprovalsTable;
}

export type UserRow = Selectable<UsersTable>;
export type TokenRow = Selectable<TokensTable>;
export type RepoRow = Selectable<ReposTable>;
export type NewRepo = Insertable<ReposTable>;
export type RunRow = Selectable<RunsTable>;
export type WebhookRow = Selectable<WebhooksTable>;
export type WebhookDeliveryRow = Selectable<WebhookDeliveriesTable>;
export type CommitStatusRow = Selectable<CommitStatusesTable>;
export type AuditRow = Selectable<AuditLogTable>;
