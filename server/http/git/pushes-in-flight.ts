import type { RefUpdate, Repo } from '../../domain/model.ts';
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
  /** Set by pre-receive once their outbox rows are recorded: the ref updates it accepted (post-receive delivers those git moved). */
  accepted?: readonly RefUpdate[];
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

  /** The push outbox's reconciler leaves these pushes to their own post-receive (until their answer has ended). */
  secrets(): IterableIterator<string> {
    return this.bySecret.keys();
  }

  close(secret: string): void {
    this.bySecret.delete(secret);
  }
}
