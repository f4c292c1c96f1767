// The registry's domain types and the mapping from rows.
import type { ModelFormat } from '../../../schema/manifest.ts';
import type { ModelVersionRow } from '../../db/registry.ts';
import type { Goal } from '../compare.ts';
import type { Inspection } from './formats/inspect.ts';

export interface ModelVersion {
  readonly repoId: number;
  readonly model: string;
  readonly version: number;
  readonly runId: number | null;
  readonly job: string;
  readonly commitSha: string;
  readonly path: string;
  readonly format: ModelFormat;
  /** sha256 of the file, which is also its key in the object store and its ETag. */
  readonly oid: string;
  readonly size: number;
  readonly params: Readonly<Record<string, string>>;
  readonly metrics: Readonly<Record<string, number>>;
  readonly goals: Readonly<Record<string, Goal>>;
  readonly datasets: readonly { readonly name: string; readonly repo: string; readonly commit: string }[];
  readonly createdBy: number | null;
  readonly createdAt: Date;
  /** Safetensors header, or the pickle mark and imports; null for versions registered before inspection existed. */
  readonly inspection: Inspection | null;
}

export interface ModelAlias {
  readonly model: string;
  readonly alias: string;
  readonly version: number;
  readonly updatedBy: string | null;
  readonly updatedAt: Date;
}

export interface AliasHistoryEntry {
  readonly id: number;
  readonly fromVersion: number | null;
  readonly toVersion: number;
  readonly actor: string | null;
  readonly reason: string | null;
  readonly overridden: readonly string[];
  readonly createdAt: Date;
}

/** What else happens when the registry changes: webhooks and audit entries (wired in app.ts). */
export interface RegistryEvents {
  versionCreated(version: ModelVersion, actorId: number | null): Promise<void>;
  aliasUpdated(
    change: { repoId: number; model: string; alias: string; from: number | null; to: number; reason: string | null; overridden: readonly string[] },
    actor: { id: number; username: string },
    address: string | null,
  ): Promise<void>;
}

export function toVersion(row: ModelVersionRow): ModelVersion {
  return {
    repoId: row.repo_id,
    model: row.model,
    version: row.version,
    runId: row.run_id,
    job: row.job,
    commitSha: row.commit_sha,
    path: row.path,
    format: row.format as ModelFormat,
    oid: row.oid,
    size: Number(row.size),
    params: row.params,
    metrics: row.metrics,
    goals: row.goals,
    datasets: row.datasets,
    createdBy: row.created_by,
    createdAt: row.created_at,
    inspection: (row.inspection as Inspection | null) ?? null,
  };
}
