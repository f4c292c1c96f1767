import type { Repo } from '../../domain/model.ts';
import type { Run } from '../../domain/runs/model.ts';
import { html, type Html } from '../html.ts';
import type { CardMeta } from '../render/front-matter.ts';
import { runStatus, shortSha, timeAgo } from './parts.ts';
import { type RepoHeader, repoHeader } from './repo-header.ts';

export interface HomePage {
  readonly header: RepoHeader;
  /** The rendered README body, or null when the default branch has none (or no commit yet). */
  readonly card: Html | null;
  readonly meta: CardMeta | null;
  readonly metaError: string | null;
  readonly empty: boolean;
  readonly latestRun: Run | null;
  readonly cloneUrl: string;
}

/** The model card: README with its front matter as chips, and the side panel. */
export function repoHomePage(p: HomePage): Html {
  const { repo } = p.header;
  return html`${repoHeader(p.header)}
${p.metaError ? html`<p class="warning" role="status">The model card's metadata could not be read (${p.metaError}); it is not shown.</p>` : ''}
${p.meta ? chips(p.meta) : ''}
<div class="layout">
  <article class="markdown">
    ${p.card ?? (p.empty ? emptyRepo(p.cloneUrl) : html`<p class="notice">No README.md on ${repo.defaultBranch} yet: it is this ${repo.kind}'s card.</p>`)}
  </article>
  <aside>
    ${latestRunPanel(repo, p.latestRun)}
    ${usePanel(repo, p.cloneUrl)}
  </aside>
</div>`;
}

function chips(meta: CardMeta): Html {
  const items: [string, string][] = [];
  if (meta.pipeline_tag) items.push(['task', meta.pipeline_tag]);
  if (meta.library_name) items.push(['library', meta.library_name]);
  if (meta.license) items.push(['license', meta.license]);
  for (const base of meta.base_model) items.push(['base model', base]);
  for (const dataset of meta.datasets) items.push(['dataset', dataset]);
  for (const tag of meta.tags) items.push(['', tag]);
  if (items.length === 0) return html``;
  return html`<ul class="chips" aria-label="Card metadata">${items.map(([label, value]) => html`<li>${label ? html`<b>${label}:</b> ` : ''}${value}</li>`)}</ul>`;
}

function latestRunPanel(repo: Repo, run: Run | null): Html {
  return html`<section class="panel">
  <h2>Latest run on ${repo.defaultBranch}</h2>
  ${run
    ? html`<p>${runStatus(run)} <b>${run.job}</b></p>
  <p class="meta"><span class="mono">${shortSha(run.commitSha)}</span> <span>${timeAgo(run.finishedAt ?? run.startedAt ?? run.createdAt)}</span></p>`
    : html`<p class="muted">No runs yet. A push whose commit has an <code>mlproject.yaml</code> starts one.</p>`}
</section>`;
}

function usePanel(repo: Repo, cloneUrl: string): Html {
  const commands = `git lfs install\ngit clone ${cloneUrl}`;
  return html`<section class="panel">
  <h2>Use this ${repo.kind}</h2>
  <div data-copy="${commands}"><pre><code>${commands}</code></pre></div>
  <p class="muted">Weights and data files are in Git LFS: install <code>git lfs</code> before cloning, or clone with <code>GIT_LFS_SKIP_SMUDGE=1</code> to fetch pointers only.${repo.private ? ' Private: use a personal access token as the password.' : ''}</p>
</section>`;
}

/** What an empty repository shows where its card or files would be. */
export function emptyRepo(cloneUrl: string): Html {
  return html`<h2>This repository is empty</h2>
<p>Push a project to it:</p>
<pre><code>git remote add origin ${cloneUrl}
git push -u origin main</code></pre>`;
}
