import { randomSecret } from './secrets.ts';

/** What the server knows about a push in flight; the hook only proves it belongs to one. */
export interface PushContext {
  readonly repoId: number;
  readonly pusherId: number;
}

/**
 * One-time secrets handed to `git receive-pack` in its environment. The hook API trusts
 * nothing the hook says about repo or pusher: it looks the secret up here.
 */
export class HookSessions {
  private readonly sessions = new Map<string, PushContext>();

  open(context: PushContext): string {
    const secret = randomSecret();
    this.sessions.set(secret, context);
    return secret;
  }

  get(secret: string): PushContext | null {
    return this.sessions.get(secret) ?? null;
  }

  close(secret: string): void {
    this.sessions.delete(secret);
  }
}
