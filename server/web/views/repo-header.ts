import type { Repo } from '../../domain/model.ts';
import { html, type Html } from '../html.ts';
import { contentPath, repoPath, userPath, visibility } from './parts.ts';

export interface RepoHeader {
  readonly repo: Repo;
  readonly tab: 'card' | 'files' | 'commits' | 'runs' | 'metrics' | 'compare' | 'settings';
  /** The fork form's CSRF token; null hides the button (anonymous, or the viewer's own repo). */
  readonly forkCsrf: string | null;
  /** Whether the viewer administers the repository (the Settings tab). */
  readonly settings?: boolean;
}

/** Name, badges, tabs and the fork button above every repository page. */
export function repoHeader({ repo, tab, forkCsrf, settings }: RepoHeader): Html {
  return html`<div class="repo-head">
  <h1><a href="${userPath(repo.owner)}">${repo.owner}</a> / <a href="${repoPath(repo)}">${repo.name}</a></h1>
  ${visibility(repo)} <span class="badge">${repo.kind}</span>
  ${forkCsrf
    ? html`<form action="${repoPath(repo, 'fork')}" method="post"><input type="hidden" name="_csrf" value="${forkCsrf}"><button type="submit">Fork</button></form>`
    : ''}
</div>
${repo.description ? html`<p class="muted">${repo.description}</p>` : ''}
<nav class="tabs">
  <a href="${repoPath(repo)}" class="${tab === 'card' ? 'on' : ''}">${repo.kind === 'dataset' ? 'Dataset card' : 'Model card'}</a>
  <a href="${contentPath(repo, 'tree', repo.defaultBranch, '')}" class="${tab === 'files' ? 'on' : ''}">Files</a>
  <a href="${repoPath(repo, 'commits', repo.defaultBranch)}" class="${tab === 'commits' ? 'on' : ''}">Commits</a>
  <a href="${repoPath(repo, 'runs')}" class="${tab === 'runs' ? 'on' : ''}">Runs</a>
  <a href="${repoPath(repo, 'metrics')}" class="${tab === 'metrics' ? 'on' : ''}">Metrics</a>
  <a href="${repoPath(repo, 'compare')}" class="${tab === 'compare' ? 'on' : ''}">Compare</a>
  ${settings ? html`<a href="${repoPath(repo, 'settings')}" class="${tab === 'settings' ? 'on' : ''}">Settings</a>` : ''}
</nav>`;
}
