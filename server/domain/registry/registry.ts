// The model registry's services, built together (server/app.ts wires them): versions, aliases,
// and the refs both write.
import type { Db } from '../../db/connect.ts';
import type { GitBackend, ObjectStore } from '../ports.ts';
import { ModelAliases } from './aliases.ts';
import type { RegistryEvents } from './model.ts';
import { ModelRefs } from './model-refs.ts';
import { ModelVersions } from './versions.ts';

export interface ModelRegistry {
  versions: ModelVersions;
  aliases: ModelAliases;
}

export function createRegistry(deps: { db: Db; git: GitBackend; store: ObjectStore; events: RegistryEvents; log: { warn(obj: object, msg: string): void } }): ModelRegistry {
  const refs = new ModelRefs(deps.git);
  const versions = new ModelVersions(deps.db, deps.git, deps.store, refs, deps.events, deps.log);
  return { versions, aliases: new ModelAliases(deps.db, deps.git, versions, refs, deps.events) };
}
