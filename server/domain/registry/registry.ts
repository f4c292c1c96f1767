// The model registry's services, built together (server/app.ts wires them): versions, aliases,
// and the refs both write.
import type { Db } from '../../db/connect.ts';
import * as registryDb from '../../db/registry.ts';
import type { GitBackend, ObjectStore } from '../ports.ts';
import { ModelAliases } from './aliases.ts';
import type { RegistryEvents } from './model.ts';
import { ModelRefs } from './model-refs.ts';
import { aliasRef, versionRef } from './names.ts';
import { ModelVersions } from './versions.ts';

export interface ModelRegistry {
  versions: ModelVersions;
  aliases: ModelAliases;
  /** Re-creates missing version refs and re-points alias refs from the rows (Postgres is the authority); answers how many it changed. */
  repairRefs(repoId: number): Promise<number>;
}

export function createRegistry(deps: { db: Db; git: GitBackend; store: ObjectStore; events: RegistryEvents; log: { warn(obj: object, msg: string): void } }): ModelRegistry {
  const refs = new ModelRefs(deps.git);
  const versions = new ModelVersions(deps.db, deps.git, deps.store, refs, deps.events, deps.log);
  const aliases = new ModelAliases(deps.db, deps.git, versions, refs, deps.events, deps.log);
  return { versions, aliases, repairRefs: (repoId) => repairRefs(deps.db, deps.git, refs, repoId) };
}

async function repairRefs(db: Db, git: GitBackend, refs: ModelRefs, repoId: number): Promise<number> {
  const rows = await registryDb.refsOfRepo(db, repoId);
  let changed = 0;
  for (const v of rows.versions) {
    const ref = versionRef(v.model, v.version);
    if ((await git.readRef(repoId, ref)) !== null) continue;
    await refs.createVersionRef(repoId, ref, v.commit_sha);
    changed += 1;
  }
  for (const a of rows.aliases) {
    const ref = aliasRef(a.model, a.alias);
    const before = await git.readRef(repoId, ref);
    await refs.syncAliasRef(repoId, ref, () => registryDb.aliasCommit(db, repoId, a.model, a.alias));
    if ((await git.readRef(repoId, ref)) !== before) changed += 1;
  }
  return changed;
}

