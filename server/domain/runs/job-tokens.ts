import { SignedTokens } from '../signed-tokens.ts';

export interface JobClaims {
  readonly runId: number;
  readonly attempt: number;
  /** The run's repo and the repos of its datasets: all a job may read. */
  readonly repoIds: number[];
}

const PREFIX = 'mlj_';

/**
 * Job-scoped credentials for runners: a runner fetches a run's commit, LFS objects and dataset
 * repos over the same git smart HTTP as everyone, with a token that reads only those repos and
 * only while that attempt runs (the run's status is checked on every use, not just the expiry).
 */
export class JobTokens {
  private readonly tokens: SignedTokens<JobClaims>;

  constructor(secret: string) {
    this.tokens = new SignedTokens(secret, 'mlgit job tokens v1');
  }

  static looksLikeJobToken(secret: string): boolean {
    return secret.startsWith(PREFIX);
  }

  mint(claims: JobClaims, ttlSeconds: number): string {
    return PREFIX + this.tokens.sign(claims, ttlSeconds);
  }

  open(token: string): JobClaims | null {
    if (!token.startsWith(PREFIX)) return null;
    const claims = this.tokens.open(token.slice(PREFIX.length));
    if (!claims || !Number.isSafeInteger(claims.runId) || !Number.isSafeInteger(claims.attempt) || !Array.isArray(claims.repoIds)) return null;
    return claims;
  }
}
