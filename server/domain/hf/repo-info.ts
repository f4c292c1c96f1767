import type { Repo } from '../model.ts';
import { cardInfo, type CardInfo } from './model-card.ts';
import type { HubEntry, HubGit } from './ports.ts';

const MAX_CACHED = 64;
const MAX_README_BYTES = 256 * 1024;

/** A small LRU: what a commit holds never changes, so entries keyed by commit never go stale. */
class Lru<V> {
  private readonly map = new Map<string, Promise<V>>();

  get(key: string, load: () => Promise<V>): Promise<V> {
    const hit = this.map.get(key);
    if (hit) {
      this.map.delete(key);
      this.map.set(key, hit);
      return hit;
    }
    const loading = load();
    this.map.set(key, loading);
    loading.catch(() => this.map.delete(key));
    if (this.map.size > MAX_CACHED) this.map.delete(this.map.keys().next().value!);
    return loading;
  }
}

/** The files and the model card of a commit, as the Hub's info and list answers show them. */
export class HubRepoInfo {
  private readonly files = new Lru<HubEntry[]>();
  private readonly cards = new Lru<CardInfo>();

  constructor(private readonly hubGit: HubGit) {}

  /** Every file and directory of the commit (with LFS details). */
  allEntries(repo: Repo, commit: string): Promise<HubEntry[]> {
    return this.files.get(`${repo.id}:${commit}`, async () => (await this.hubGit.list(repo.id, commit, '', true)) ?? []);
  }

  /** The card of the README.md at the commit (nothing when there is none, or it is large or an LFS file). */
  card(repo: Repo, commit: string): Promise<CardInfo> {
    return this.cards.get(`${repo.id}:${commit}`, async () => {
      const readme = await this.hubGit.entry(repo.id, commit, 'README.md');
      if (!readme || readme.type !== 'file' || readme.lfs || readme.size > MAX_README_BYTES) return cardInfo(null);
      return cardInfo((await this.hubGit.readSmall(repo.id, readme.oid)).toString('utf8'));
    });
  }
}
