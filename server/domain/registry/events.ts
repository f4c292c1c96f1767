// The registry's side effects: signed webhooks (model.version.created, model.alias.updated, sent
// through the same delivery path as every other event) and audit entries for alias moves and
// gate overrides.
import type { AuditLog } from '../audit.ts';
import type { Repo } from '../model.ts';
import type { RegistryEvents } from './model.ts';

export interface RegistryEventDeps {
  emit(repoId: number, event: 'model.version.created' | 'model.alias.updated', payload: Record<string, unknown>, senderId: number | null): Promise<void>;
  audit: AuditLog;
  repoById(id: number): Promise<Repo | null>;
  baseUrl(): string;
  log: { warn(obj: object, msg: string): void };
}

export function registryEvents(deps: RegistryEventDeps): RegistryEvents {
  // `mlgit model register` runs the app without listening: no base URL then, so links are paths.
  const base = () => {
    try {
      return deps.baseUrl();
    } catch {
      return '';
    }
  };
  const apiPath = async (repoId: number, model: string) => {
    const repo = await deps.repoById(repoId);
    return { full: repo ? `${repo.owner}/${repo.name}` : String(repoId), url: `${base()}/api/v1/repos/${repo ? `${repo.owner}/${repo.name}` : repoId}/models/${model}` };
  };
  // A webhook or audit failure must not undo a version or a move that is already recorded.
  const guarded = async (what: string, work: () => Promise<void>) => {
    try {
      await work();
    } catch (err) {
      deps.log.warn({ err }, `could not record ${what}`);
    }
  };
  return {
    async versionCreated(version, actorId) {
      await guarded('model.version.created', async () => {
        const where = await apiPath(version.repoId, version.model);
        await deps.audit.record({ action: 'model.version.create', actor: null, target: `${where.full}:${version.model}@v${version.version}`, details: { run: version.runId, commit: version.commitSha, by: actorId }, address: null });
        await deps.emit(
          version.repoId,
          'model.version.created',
          {
            action: 'created',
            model: version.model,
            version: {
              number: version.version,
              run_id: version.runId,
              commit: version.commitSha,
              path: version.path,
              format: version.format,
              sha256: version.oid,
              size: version.size,
              metrics: version.metrics,
              url: `${where.url}/versions/${version.version}`,
            },
          },
          actorId,
        );
      });
    },
    async aliasUpdated(change, actor, address) {
      await guarded('model.alias.updated', async () => {
        const where = await apiPath(change.repoId, change.model);
        const target = `${where.full}:${change.model}/${change.alias}`;
        const details = { from: change.from, to: change.to, reason: change.reason, overridden: change.overridden };
        await deps.audit.record({ action: change.overridden.length > 0 ? 'model.alias.override' : 'model.alias.move', actor, target, details, address });
        await deps.emit(
          change.repoId,
          'model.alias.updated',
          { action: 'updated', model: change.model, alias: change.alias, from_version: change.from, to_version: change.to, reason: change.reason, overridden: change.overridden, url: `${where.url}/aliases/${change.alias}` },
          actor.id,
        );
      });
    },
  };
}
