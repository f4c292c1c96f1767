import type { Repo } from '../../domain/model.ts';
import type { Run } from '../../domain/runs/model.ts';
import { html, type Html } from '../html.ts';

export function userPath(username: string): string {
  return `/${encodeURIComponent(username)}`;
}

/** URL path of a repository page, every segment percent-encoded. */
export function repoPath(repo: Pick<Repo, 'owner' | 'name'>, ...rest: string[]): string {
  return '/' + [repo.owner, repo.name, ...rest].map(encodeURIComponent).join('/');
}

/** URL of a file or directory at a ref: the ref is one segment (its slashes encoded), the path keeps its own. */
export function contentPath(repo: Pick<Repo, 'owner' | 'name'>, view: 'tree' | 'blob' | 'raw' | 'resolve', ref: string, path: string): string {
  const tail = path === '' ? '' : '/' + path.split('/').map(encodeURIComponent).join('/');
  return `${repoPath(repo, view, ref)}${tail}`;
}

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'];

export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 1 : 0)} ${UNITS[unit]}`;
}

const STEPS: [number, string][] = [
  [60, 'second'],
  [60, 'minute'],
  [24, 'hour'],
  [30, 'day'],
  [12, 'month'],
  [Infinity, 'year'],
];

/** "3 hours ago", with the exact time for hover and machines. */
export function timeAgo(date: Date, now = Date.now()): Html {
  let amount = Math.max(0, Math.round((now - date.getTime()) / 1000));
  let unit = 'second';
  for (const [size, name] of STEPS) {
    unit = name;
    if (amount < size) break;
    amount = Math.floor(amount / size);
  }
  const text = amount === 0 && unit === 'second' ? 'just now' : `${amount} ${unit}${amount === 1 ? '' : 's'} ago`;
  return html`<time datetime="${date.toISOString()}" title="${date.toISOString()}">${text}</time>`;
}

export function runStatus(run: Pick<Run, 'status' | 'job'>): Html {
  return html`<span class="status ${run.status}" title="${run.job}: ${run.status}">${run.status.replace('_', ' ')}</span>`;
}

export function visibility(repo: Pick<Repo, 'private'>): Html {
  return repo.private ? html`<span class="badge">private</span>` : html``;
}

export function shortSha(sha: string): string {
  return sha.slice(0, 8);
}
