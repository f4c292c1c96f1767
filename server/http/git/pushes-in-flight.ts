import type { Repo } from '../../domain/model.ts';
import type { GitTimeline } from './git-timeline.ts';

/** What the hook API needs about a push in flight beyond the domain's PushContext. */
export interface PushInFlight {
  readonly timeline: GitTimeline;
  /** Where the pusher reaches this server (MLGIT_PUBLIC_URL, else the push request's host), for links in `remote:` lines. */
  readonly baseUrl: string;
  /**
   * The repository as the push request was authorized a moment before git started: pre-receive
   * checks against it instead of reading it again. Absent for the Hub API's commits, which run
   * the checks themselves.
   */
  readonly repo?: Repo;
  /** Set by pre-receive: whether the push may start runs (then post-receive names them to the pusher). */
  mayStartRuns?: boolean;
  /**
   * Set by post-receive when it answered git before the push was recorded (a push that starts no
   * runs has nothing to tell the pusher): the push's HTTP answer ends only once this settles, so
   * `git push` still returns with the push on record, while git finishes its own work meanwhile.
   */
  recording?: Promise<unknown>;
}

/** Pushes whose `git receive-pack` is running, by hook secret (the hook API finds its push here). */
export class PushesInFlight {
  private readonly bySecret = new Map<string, PushInFlight>();

  open(secret: string, push: PushInFlight): void {
    this.bySecret.set(secret, push);
  }

  get(secret: string): PushInFlight | undefined {
    return this.bySecret.get(secret);
  }

  /** The push outbox's reconciler leaves these pushes to their own post-receive. */
  secrets(): IterableIterator<string> {
    return this.bySecret.keys();
  }

  close(secret: string): void {
    this.bySecret.delete(secret);
  }
}
