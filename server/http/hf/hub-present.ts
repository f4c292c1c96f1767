import type { CardInfo } from '../../domain/hf/model-card.ts';
import type { HubEntry } from '../../domain/hf/ports.ts';
import type { Repo } from '../../domain/model.ts';

/** The fields every Hub repository answer carries (api/models, api/datasets, their lists). */
export function presentHubRepo(repo: Repo, extra: { sha: string | null; downloads: number; card: CardInfo | null }) {
  const id = `${repo.owner}/${repo.name}`;
  const card = extra.card;
  return {
    _id: String(repo.id),
    id,
    ...(repo.kind === 'model' ? { modelId: id } : {}),
    author: repo.owner,
    sha: extra.sha,
    private: repo.private,
    gated: false,
    disabled: false,
    lastModified: (repo.pushedAt ?? repo.updatedAt).toISOString(),
    createdAt: repo.createdAt.toISOString(),
    description: repo.description,
    downloads: extra.downloads,
    likes: 0,
    ...(card
      ? {
          tags: card.tags,
          ...(card.cardData ? { cardData: card.cardData } : {}),
          ...(card.libraryName ? { library_name: card.libraryName } : {}),
          ...(card.pipelineTag ? { pipeline_tag: card.pipelineTag } : {}),
        }
      : {}),
  };
}

/** A sibling of api/models: the file name, and with `blobs=true` its size, blob id and LFS object. */
export function presentSibling(entry: HubEntry, blobs: boolean) {
  if (!blobs) return { rfilename: entry.path };
  return {
    rfilename: entry.path,
    size: entry.lfs ? entry.lfs.size : entry.size,
    blobId: entry.oid,
    ...(entry.lfs ? { lfs: { sha256: entry.lfs.oid, size: entry.lfs.size, pointerSize: entry.lfs.pointerSize } } : {}),
  };
}

/** A tree entry as api/{type}s/{repo}/tree lists it: an LFS file's `size` is its object's. */
export function presentTreeEntry(entry: HubEntry) {
  return {
    type: entry.type,
    oid: entry.oid,
    size: entry.lfs ? entry.lfs.size : entry.size,
    path: entry.path,
    ...(entry.lfs ? { lfs: { oid: entry.lfs.oid, size: entry.lfs.size, pointerSize: entry.lfs.pointerSize } } : {}),
  };
}
