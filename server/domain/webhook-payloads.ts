import type { GitCommit } from './ports.ts';
import type { Repo, User } from './model.ts';

/** Every event a hook can subscribe to. */
export const WEBHOOK_EVENTS = ['push', 'run.queued', 'run.started', 'run.completed', 'metrics.regression', 'status', 'repo.created', 'repo.deleted', 'model.version.created', 'model.alias.updated', 'deployment.state', 'ping'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/** GitHub lists at most 20 commits in a push event; receivers are written for that. */
export const PUSH_COMMIT_LIMIT = 20;

export function repositoryPayload(repo: Repo, base: string) {
  return {
    id: repo.id,
    name: repo.name,
    full_name: `${repo.owner}/${repo.name}`,
    owner: { id: repo.ownerId, login: repo.owner },
    private: repo.private,
    kind: repo.kind,
    description: repo.description,
    default_branch: repo.defaultBranch,
    html_url: `${base}/${repo.owner}/${repo.name}`,
    clone_url: `${base}/${repo.owner}/${repo.name}.git`,
  };
}

export function senderPayload(user: User | null) {
  return user ? { id: user.id, login: user.username } : null;
}

function commitPayload(commit: GitCommit, repoUrl: string) {
  return {
    id: commit.sha,
    message: commit.message,
    timestamp: commit.author.date,
    url: `${repoUrl}/commit/${commit.sha}`,
    author: { name: commit.author.name, email: commit.author.email },
    committer: { name: commit.committer.name, email: commit.committer.email },
  };
}

/**
 * The event fields of a push to one ref, shaped like GitHub's push event so existing receivers
 * parse it: commits oldest first, `head_commit` the new tip. `repository` and `sender` are added
 * by the emitter. `newCommits` is git log from the new tip (newest first), already cut at `before`.
 */
export function pushPayload(input: { ref: string; before: string; after: string; zeroSha: string; newCommits: GitCommit[]; pusher: User | null; repoUrl: string }) {
  const commits = [...input.newCommits].reverse().map((c) => commitPayload(c, input.repoUrl));
  return {
    ref: input.ref,
    before: input.before,
    after: input.after,
    created: input.before === input.zeroSha,
    deleted: input.after === input.zeroSha,
    compare: `${input.repoUrl}/compare/${input.before.slice(0, 12)}...${input.after.slice(0, 12)}`,
    commits,
    head_commit: commits.at(-1) ?? null,
    pusher: input.pusher ? { name: input.pusher.username, email: input.pusher.email } : null,
  };
}
