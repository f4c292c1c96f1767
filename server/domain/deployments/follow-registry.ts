// Deployments follow their alias: every registry event about a model (a new version, which moves
// `latest`; an alias move) tells the deployments of that model to check what their alias names.
import type { RegistryEvents } from '../registry/model.ts';

export function followedByDeployments(events: RegistryEvents, modelChanged: (repoId: number, model: string) => void): RegistryEvents {
  return {
    async versionCreated(version, actorId) {
      await events.versionCreated(version, actorId);
      modelChanged(version.repoId, version.model);
    },
    async aliasUpdated(change, actor, address) {
      await events.aliasUpdated(change, actor, address);
      modelChanged(change.repoId, change.model);
    },
  };
}
