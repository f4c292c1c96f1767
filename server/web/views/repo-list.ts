import type { Repo } from '../../domain/model.ts';
import type { Run } from '../../domain/runs/model.ts';
import { html, type Html } from '../html.ts';
import type { CardTags } from '../repo-cards.ts';
import type { Headline } from './commits.ts';
import { formatValue } from './metrics.ts';
import { repoPath, runStatus, timeAgo, visibility } from './parts.ts';

export interface ListedRepo {
  readonly repo: Repo;
  readonly card: CardTags;
  readonly latestRun: Run | null;
  /** The primary metric of the latest run's commit on the default branch. */
  readonly headline: Headline | null;
}

/** The card's task, library and license, and its first tags. */
function cardChips(card: CardTags): Html {
  const chips = [
    card.task ? html`<li title="task">${card.task}</li>` : '',
    card.library ? html`<li title="library">${card.library}</li>` : '',
    card.license ? html`<li title="license">${card.license}</li>` : '',
    ...card.tags.map((tag) => html`<li class="tag">${tag}</li>`),
  ].filter((c) => c !== '');
  return chips.length === 0 ? html`` : html`<ul class="chips">${chips}</ul>`;
}

export interface Paging {
  readonly page: number;
  readonly last: number;
  /** The URL of another page of the same list. */
  readonly url: (page: number) => string;
}

/** Rows of repositories (explore and user pages) with their pager. */
export function repoList(rows: readonly ListedRepo[], paging: Paging, empty: string): Html {
  if (rows.length === 0) return html`<p class="notice">${empty}</p>`;
  return html`<ul class="repos">
${rows.map(
  ({ repo, card, latestRun, headline }) => html`<li>
  <a class="name" href="${repoPath(repo)}">${repo.owner}/${repo.name}</a> ${visibility(repo)} <span class="badge">${repo.kind}</span>
  ${repo.description ? html`<p>${repo.description}</p>` : ''}
  ${cardChips(card)}
  <div class="meta">
    <span>updated ${timeAgo(repo.pushedAt ?? repo.updatedAt)}</span>
    ${latestRun ? html`<span>latest run on ${repo.defaultBranch}: ${runStatus(latestRun)}</span>` : ''}
    ${headline ? html`<span class="headline" title="${headline.job}: ${headline.metric}">${headline.metric} <b>${formatValue(headline.value)}</b></span>` : ''}
  </div>
</li>`,
)}
</ul>
${pager(paging)}`;
}

export function pager({ page, last, url }: Paging): Html {
  if (last <= 1) return html``;
  return html`<nav class="pages" aria-label="Pages">
  ${page > 1 ? html`<a href="${url(page - 1)}" rel="prev">← Previous</a>` : ''}
  <span class="muted">Page ${page} of ${last}</span>
  ${page < last ? html`<a href="${url(page + 1)}" rel="next">Next →</a>` : ''}
</nav>`;
}
