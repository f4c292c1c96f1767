import type { Repo } from './model.ts';

/**
 * Which repo id a transfer URL's `owner/name` stood for when this process last saw it (in the
 * hrefs of a batch answer it signed, or from the database). Transfers use it to pick the repo id
 * an action token is checked against without a database read per object.
 *
 * A stale entry grants nothing: the token must still be signed for that very repo id, so the
 * worst case is an upload recorded for the repo whose token it is (the one the batch authorised)
 * after a rename. When the token does not match, the caller asks the database.
 */
export class TransferRepoIds {
  readonly #ids = new Map<string, number>();

  constructor(private readonly capacity = 1024) {}

  get(names: { owner: string; name: string }): number | undefined {
    return this.#ids.get(key(names.owner, names.name));
  }

  remember(repo: Repo): void {
    const k = key(repo.owner, repo.name);
    // Re-inserting moves the entry to the end, so eviction drops the least recently seen.
    this.#ids.delete(k);
    this.#ids.set(k, repo.id);
    if (this.#ids.size > this.capacity) this.#ids.delete(this.#ids.keys().next().value!);
  }
}

// Repo URLs match case-insensitively (server/db/repos.ts findRepo).
function key(owner: string, name: string): string {
  return `${owner.toLowerCase()}/${name.toLowerCase()}`;
}
