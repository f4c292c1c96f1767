import type { Db } from '../db/connect.ts';
import * as removalDb from '../db/account-removal.ts';
import * as usersDb from '../db/users.ts';
import { isSiteAdmin } from './access.ts';
import { type AccountService, toUser } from './accounts.ts';
import { conflict, DomainError, forbidden, invalid, notFound } from './errors.ts';
import type { Principal, User } from './model.ts';
import type { RepoService } from './repos.ts';
import { type Run, toRun } from './runs/model.ts';

export interface UserRemoval {
  readonly deletedRepos: string[];
  readonly transferredRepos: string[];
  readonly cancelledRuns: number[];
}

interface Deps {
  db: Db;
  accounts: AccountService;
  repos: RepoService;
  /** The users' cancel (queued runs end now, running ones at their runner's next heartbeat). */
  cancelRun(run: Run): Promise<unknown>;
  /** Fired before a repo of a deleted user goes, as the repo DELETE route does (webhook deliveries outlive the repo). */
  repoDeleted(repoId: number, actorId: number): Promise<void>;
}

/** Site admins suspend, unsuspend and delete accounts. */
export class UserAdmin {
  constructor(private readonly deps: Deps) {}

  /** Every credential of the user stops working at once: tokens and passwords get 403, login JWTs 401. */
  async suspend(admin: Principal, username: string): Promise<User> {
    const user = await this.target(admin, username, 'suspend');
    await usersDb.setSuspended(this.deps.db, user.id, true);
    this.deps.accounts.forgetUser(user.id);
    return user;
  }

  async unsuspend(admin: Principal, username: string): Promise<User> {
    const user = await this.target(admin, username, 'unsuspend');
    await usersDb.setSuspended(this.deps.db, user.id, false);
    this.deps.accounts.forgetUser(user.id);
    return user;
  }

  /**
   * Deletes the account. Its repos are deleted, or moved to `transferTo` (refused up front when that
   * user already has a repo of the same name); forks of private repositories the heir cannot read
   * are deleted even then, since a fork must not outlive the access it was made with (as when a
   * collaborator is removed). Runs the user started, and on deletion every run in their repos,
   * are cancelled first. The account is suspended while this happens, so it cannot act.
   */
  async remove(admin: Principal, username: string, transferTo: string | undefined): Promise<UserRemoval> {
    const { db } = this.deps;
    const user = await this.target(admin, username, 'delete');
    const heir = transferTo === undefined ? null : await this.deps.accounts.findUser(transferTo);
    if (heir?.id === user.id) throw invalid('transfer_to must name another user');
    const owned = await removalDb.ownedRepos(db, user.id);
    const dropped = heir ? await this.unheritable(owned, user.id, heir.id) : new Set(owned.map((r) => r.id));
    const kept = owned.filter((r) => !dropped.has(r.id));
    if (heir) {
      const taken = new Set((await removalDb.ownedRepos(db, heir.id)).map((r) => r.name.toLowerCase()));
      const clashes = kept.filter((r) => taken.has(r.name.toLowerCase())).map((r) => r.name);
      if (clashes.length > 0) throw conflict(`"${heir.username}" already has repositories named ${clashes.join(', ')}`);
    }

    await usersDb.setSuspended(db, user.id, true);
    this.deps.accounts.forgetUser(user.id);
    const cancelledRuns: number[] = [];
    for (const row of await removalDb.activeRuns(db, user.id, heir === null)) {
      try {
        await this.deps.cancelRun(toRun(row));
        cancelledRuns.push(row.id);
      } catch (err) {
        // A run that finished meanwhile is a conflict here, and needs nothing more.
        if (!(err instanceof DomainError && err.code === 'conflict')) throw err;
      }
    }

    for (const repo of owned.filter((r) => dropped.has(r.id))) {
      // An earlier deletion may have taken this fork with it (a fork of a deleted private repo).
      if (!(await this.deps.repos.byId(repo.id))) continue;
      await this.deps.repoDeleted(repo.id, admin.user.id);
      await this.deps.repos.remove(admin, user.username, repo.name);
    }
    if (heir) await removalDb.transferRepos(db, user.id, heir.id);
    await usersDb.deleteUser(db, user.id);
    this.deps.accounts.forgetUser(user.id);
    const deletedRepos = owned.filter((r) => dropped.has(r.id)).map((r) => r.name);
    return { deletedRepos, transferredRepos: kept.map((r) => r.name), cancelledRuns };
  }

  /**
   * The user's repos the heir may not receive: forks whose private source the heir cannot read,
   * and forks of those. A source the user owns goes to the heir too, so it counts as readable.
   */
  private async unheritable(owned: readonly { id: number }[], userId: number, heirId: number): Promise<Set<number>> {
    const heir = await this.deps.accounts.principalForJwt(heirId);
    const verdicts = new Map<number, boolean>();
    const lost = async (repoId: number): Promise<boolean> => {
      const known = verdicts.get(repoId);
      if (known !== undefined) return known;
      const repo = await this.deps.repos.byId(repoId);
      const parent = repo?.forkParentId == null ? null : await this.deps.repos.byId(repo.forkParentId);
      let verdict = false;
      if (parent?.private) {
        verdict =
          parent.ownerId === userId
            ? await lost(parent.id)
            : !(await this.deps.repos.authorize(heir, parent.owner, parent.name, 'read').then(
                () => true,
                () => false,
              ));
      }
      verdicts.set(repoId, verdict);
      return verdict;
    };
    const result = new Set<number>();
    for (const repo of owned) if (await lost(repo.id)) result.add(repo.id);
    return result;
  }

  /** The account an admin acts on; never their own (an admin must not lock themselves out). */
  private async target(admin: Principal, username: string, action: string): Promise<User> {
    if (!isSiteAdmin(admin)) throw forbidden(`only site admins can ${action} users`);
    const row = await usersDb.findUserByName(this.deps.db, username);
    if (!row) throw notFound(`user "${username}"`);
    if (row.id === admin.user.id) throw invalid(`you cannot ${action} your own account`);
    return toUser(row);
  }
}
