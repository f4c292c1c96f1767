import type { Repo } from '../../domain/model.ts';
import type { GitTreeEntry } from '../../domain/ports.ts';
import { html, type Html } from '../html.ts';
import type { FileContent } from '../repo-content.ts';
import { contentPath, formatBytes, repoPath } from './parts.ts';
import { type RepoHeader, repoHeader } from './repo-header.ts';
import { emptyRepo } from './repo-home.ts';

/** The branches and tags a page can switch to (links at the same path), and a box for any ref or SHA. */
export interface RefChoices {
  readonly branches: readonly string[];
  readonly tags: readonly string[];
}

const FULL_SHA = /^[0-9a-f]{40}$/;

/**
 * The ref picker: a details/summary menu of links (works without JavaScript) to the same path at
 * another branch or tag, and a GET form for a SHA or any ref name (`/:r/goto` redirects).
 */
function refPicker(repo: Repo, view: 'tree' | 'blob', ref: string, path: string, refs: RefChoices): Html {
  const label = FULL_SHA.test(ref) ? ref.slice(0, 8) : ref;
  const links = (names: readonly string[]) =>
    names.map((name) => html`<li><a href="${contentPath(repo, view, name, path)}"${name === ref ? html` class="on" aria-current="true"` : ''}>${name}</a></li>`);
  return html`<details class="ref-picker">
  <summary><span class="muted">${refs.tags.includes(ref) ? 'tag' : FULL_SHA.test(ref) ? 'commit' : 'branch'}:</span> <b>${label}</b></summary>
  <div class="menu">
    ${refs.branches.length > 0 ? html`<p class="muted small">Branches</p><ul>${links(refs.branches)}</ul>` : ''}
    ${refs.tags.length > 0 ? html`<p class="muted small">Tags</p><ul>${links(refs.tags)}</ul>` : ''}
    <form action="${repoPath(repo, 'goto')}" method="get">
      <input type="hidden" name="view" value="${view}"><input type="hidden" name="path" value="${path}">
      <label>Go to a ref or SHA <input type="text" name="ref" required maxlength="256" placeholder="main, v1.0, 3f2a91c0"></label>
      <button type="submit">Go</button>
    </form>
  </div>
</details>`;
}

/** `repo / dir / sub / file` links at a ref; the last segment is plain text. */
function breadcrumbs(repo: Repo, view: 'tree' | 'blob', ref: string, path: string, refs: RefChoices): Html {
  const segments = path === '' ? [] : path.split('/');
  return html`<nav class="crumbs" aria-label="Path">
  ${refPicker(repo, view, ref, path, refs)}
  ${segments.length === 0 ? html`<b>${repo.name}</b>` : html`<a href="${contentPath(repo, 'tree', ref, '')}">${repo.name}</a>`}
  ${segments.map((segment, i) =>
    i === segments.length - 1 ? html`/ <b>${segment}</b>` : html`/ <a href="${contentPath(repo, 'tree', ref, segments.slice(0, i + 1).join('/'))}">${segment}</a>`,
  )}
</nav>`;
}

export interface TreePage {
  readonly header: RepoHeader;
  readonly ref: string;
  readonly path: string;
  readonly entries: readonly GitTreeEntry[];
  /** Path -> object size of the entries that are LFS pointers. */
  readonly lfs: ReadonlyMap<string, number>;
  readonly readme: { readonly name: string; readonly body: Html } | null;
  readonly refs: RefChoices;
}

export function treePage(p: TreePage): Html {
  const { repo } = p.header;
  const sorted = [...p.entries].sort((a, b) => Number(b.type === 'tree') - Number(a.type === 'tree') || a.name.localeCompare(b.name));
  return html`${repoHeader(p.header)}
${breadcrumbs(repo, 'tree', p.ref, p.path, p.refs)}
<table class="files">
  <tbody>
  ${p.path !== '' ? html`<tr><td class="icon"></td><td><a href="${contentPath(repo, 'tree', p.ref, p.path.split('/').slice(0, -1).join('/'))}">..</a></td><td class="size"></td></tr>` : ''}
  ${sorted.map((entry) => entryRow(repo, p.ref, entry, p.lfs.get(entry.path)))}
  </tbody>
</table>
${p.readme ? html`<h2>${p.readme.name}</h2><article class="markdown file-body">${p.readme.body}</article>` : ''}`;
}

function entryRow(repo: Repo, ref: string, entry: GitTreeEntry, lfsSize: number | undefined): Html {
  if (entry.type === 'tree') return html`<tr><td class="icon" aria-label="folder">▸</td><td><a href="${contentPath(repo, 'tree', ref, entry.path)}">${entry.name}/</a></td><td class="size"></td></tr>`;
  if (entry.type === 'commit') return html`<tr><td class="icon" aria-label="submodule">◇</td><td>${entry.name} <span class="badge">submodule</span></td><td class="size"></td></tr>`;
  return html`<tr>
  <td class="icon" aria-label="file">·</td>
  <td><a href="${contentPath(repo, 'blob', ref, entry.path)}">${entry.name}</a>${lfsSize !== undefined
    ? html` <span class="badge" title="stored with Git LFS">LFS</span> <a href="${contentPath(repo, 'resolve', ref, entry.path)}" download>download</a>`
    : ''}</td>
  <td class="size">${formatBytes(lfsSize ?? entry.size ?? 0)}</td>
</tr>`;
}

/** The Files tab of a repository without a commit yet. */
export function emptyTreePage(header: RepoHeader, cloneUrl: string): Html {
  return html`${repoHeader(header)}
${emptyRepo(cloneUrl)}`;
}

export interface BlobPage {
  readonly header: RepoHeader;
  readonly ref: string;
  readonly path: string;
  readonly file: FileContent;
  /** Highlighted lines (text files shown as code). */
  readonly lines: readonly Html[] | null;
  /** Rendered markdown (markdown files, unless the source was asked for). */
  readonly preview: Html | null;
  readonly isMarkdown: boolean;
  readonly refs: RefChoices;
  /** The commit the ref named: the permalink. */
  readonly commit: string;
}

export function blobPage(p: BlobPage): Html {
  const { repo } = p.header;
  const { file } = p;
  const raw = contentPath(repo, 'raw', p.ref, p.path);
  const download = contentPath(repo, 'resolve', p.ref, p.path);
  const here = contentPath(repo, 'blob', p.ref, p.path);
  const size = file.kind === 'lfs' ? file.objectSize : file.size;
  return html`${repoHeader(p.header)}
${breadcrumbs(repo, 'blob', p.ref, p.path, p.refs)}
<div class="file-head">
  <span class="meta">
    <span>${formatBytes(size)}</span>
    ${p.lines ? html`<span>${p.lines.length} ${p.lines.length === 1 ? 'line' : 'lines'}</span>` : ''}
    ${file.kind === 'lfs' ? html`<span class="badge" title="stored with Git LFS">LFS</span>` : ''}
  </span>
  <span class="meta">
    ${p.isMarkdown && file.kind === 'text' ? (p.preview ? html`<a href="${here}?plain=1">Source</a>` : html`<a href="${here}">Preview</a>`) : ''}
    ${p.commit !== p.ref ? html`<a href="${contentPath(repo, 'blob', p.commit, p.path)}" title="this file at commit ${p.commit}">Permalink</a>` : ''}
    ${file.kind !== 'lfs' ? html`<a href="${raw}">Raw</a>` : ''}
    <a href="${download}" download>Download</a>
  </span>
</div>
${body(p, download)}`;
}

function body(p: BlobPage, download: string): Html {
  const { file } = p;
  if (p.preview) return html`<article class="markdown file-body">${p.preview}</article>`;
  if (p.lines) {
    return html`<div class="file-body code"><table class="code"><tbody>
${p.lines.map((line, i) => html`<tr id="L${i + 1}"><td class="ln"><a href="#L${i + 1}">${i + 1}</a></td><td class="line">${line}</td></tr>`)}
</tbody></table></div>`;
  }
  const why =
    file.kind === 'lfs'
      ? html`This file is stored with Git LFS (${formatBytes(file.objectSize)}, <span class="mono">sha256:${file.oid.slice(0, 12)}…</span>). It is not shown here.`
      : file.kind === 'too_large'
        ? html`This file is too large to show here (${formatBytes(file.size)}).`
        : html`This is a binary file (${formatBytes(file.size)}); it is not shown here.`;
  return html`<div class="file-body notice"><p>${why}</p><p><a class="button primary" href="${download}" download>Download</a></p></div>`;
}
