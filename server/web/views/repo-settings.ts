import type { Hook } from '../../domain/webhooks.ts';
import { WEBHOOK_EVENTS } from '../../domain/webhook-payloads.ts';
import { html, type Html } from '../html.ts';
import { repoPath, timeAgo } from './parts.ts';
import { repoHeader, type RepoHeader } from './repo-header.ts';

export type SettingsSection = 'general' | 'collaborators' | 'hooks';

/** What the forms held when the server refused them, so nothing typed is lost. */
export type FormValues = Readonly<Record<string, string | undefined>>;

export interface RepoSettingsView {
  readonly header: RepoHeader;
  readonly csrf: string;
  readonly branches: readonly string[];
  readonly collaborators: readonly { readonly username: string; readonly role: string }[];
  readonly hooks: readonly Hook[];
  /** A fixed confirmation after a redirect (never text from the request). */
  readonly notice: string | null;
  readonly error: { readonly section: SettingsSection; readonly message: string; readonly values: FormValues } | null;
}

const ROLES = ['read', 'write', 'admin'] as const;

/** The events a new hook is subscribed to unless the form says otherwise (GitHub's default is push only). */
export const DEFAULT_EVENTS = ['push'];

function csrfField(csrf: string): Html {
  return html`<input type="hidden" name="_csrf" value="${csrf}">`;
}

function errorFor(view: RepoSettingsView, section: SettingsSection): Html {
  return view.error?.section === section ? html`<p class="error-box" role="alert">${view.error.message}</p>` : html``;
}

function valuesFor(view: RepoSettingsView, section: SettingsSection): FormValues | null {
  return view.error?.section === section ? view.error.values : null;
}

function general(view: RepoSettingsView): Html {
  const { repo } = view.header;
  const values = valuesFor(view, 'general');
  const description = values?.description ?? repo.description;
  const isPrivate = values ? values.visibility === 'private' : repo.private;
  const defaultBranch = values?.default_branch ?? repo.defaultBranch;
  const branches = view.branches.includes(defaultBranch) ? view.branches : [defaultBranch, ...view.branches];
  const protectedText = values?.protected_branches ?? repo.protectedBranches.join('\n');
  return html`<section aria-labelledby="general">
<h2 id="general">General</h2>
${errorFor(view, 'general')}
<form class="stack" action="${repoPath(repo, 'settings')}" method="post">
  ${csrfField(view.csrf)}
  <label>Description <input type="text" name="description" maxlength="2000" value="${description}"></label>
  <fieldset>
    <legend>Visibility</legend>
    <label><input type="radio" name="visibility" value="public" ${isPrivate ? '' : 'checked'}> Public: anyone can see and clone it</label>
    <label><input type="radio" name="visibility" value="private" ${isPrivate ? 'checked' : ''}> Private: only you and collaborators</label>
  </fieldset>
  <label>Default branch
    <select name="default_branch">${branches.map((b) => html`<option value="${b}" ${b === defaultBranch ? 'selected' : ''}>${b}</option>`)}</select>
  </label>
  <label>Protected branches <span class="muted small">one name or pattern per line (<code>*</code> matches within a segment): no force pushes, no deletion</span>
    <textarea name="protected_branches" rows="3">${protectedText}</textarea>
  </label>
  <div><button class="primary" type="submit">Save</button></div>
</form>
</section>`;
}

function collaborators(view: RepoSettingsView): Html {
  const { repo } = view.header;
  const values = valuesFor(view, 'collaborators');
  const role = values?.role ?? 'read';
  return html`<section aria-labelledby="collaborators">
<h2 id="collaborators">Collaborators</h2>
${errorFor(view, 'collaborators')}
${view.collaborators.length === 0
  ? html`<p class="muted">No collaborators: only ${repo.owner} ${repo.private ? 'and site admins can see' : 'can push to'} this repository.</p>`
  : html`<div class="table-wrap"><table class="settings">
<thead><tr><th scope="col">User</th><th scope="col">Role</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
<tbody>
${view.collaborators.map(
  (c) => html`<tr><td><a href="/${encodeURIComponent(c.username)}">${c.username}</a></td><td>${c.role}</td>
<td><form action="${repoPath(repo, 'settings', 'collaborators', 'remove')}" method="post">${csrfField(view.csrf)}<input type="hidden" name="username" value="${c.username}"><button type="submit" aria-label="Remove ${c.username}">Remove</button></form></td></tr>`,
)}
</tbody></table></div>`}
<form class="inline-form" action="${repoPath(repo, 'settings', 'collaborators')}" method="post">
  ${csrfField(view.csrf)}
  <label>Username <input type="text" name="username" required maxlength="40" autocomplete="off" value="${values?.username ?? ''}"></label>
  <label>Role <select name="role">${ROLES.map((r) => html`<option value="${r}" ${r === role ? 'selected' : ''}>${r}</option>`)}</select></label>
  <button type="submit">Add or change role</button>
</form>
</section>`;
}

/** Checkboxes named `event.<name>`: the form parser keeps one value per name. */
export function eventBoxes(checked: (event: string) => boolean): Html {
  return html`<fieldset><legend>Events</legend>
${WEBHOOK_EVENTS.filter((e) => e !== 'ping').map((e) => html`<label><input type="checkbox" name="event.${e}" value="on" ${checked(e) ? 'checked' : ''}> ${e}</label>`)}
</fieldset>`;
}

function hookState(hook: Hook): Html {
  if (hook.active) return html`<span class="status success">active</span>`;
  return html`<span class="status failed">off</span>${hook.disabledReason ? html` <span class="muted small">${hook.disabledReason}</span>` : ''}`;
}

function hooks(view: RepoSettingsView): Html {
  const { repo } = view.header;
  const values = valuesFor(view, 'hooks');
  const checked = (e: string) => (values ? values[`event.${e}`] === 'on' : DEFAULT_EVENTS.includes(e));
  return html`<section aria-labelledby="webhooks">
<h2 id="webhooks">Webhooks</h2>
${errorFor(view, 'hooks')}
${view.hooks.length === 0
  ? html`<p class="muted">No webhooks.</p>`
  : html`<ul class="hooks">
${view.hooks.map(
  (h) => html`<li><a class="mono" href="${repoPath(repo, 'settings', 'hooks', String(h.id))}">${h.url}</a> ${hookState(h)}
<div class="meta"><span>${h.events.join(', ')}</span><span>${h.hasSecret ? 'signed' : 'unsigned'}</span><span>added ${timeAgo(h.createdAt)}</span></div></li>`,
)}
</ul>`}
<h3>Add a webhook</h3>
<form class="stack" action="${repoPath(repo, 'settings', 'hooks')}" method="post">
  ${csrfField(view.csrf)}
  <label>Payload URL <input type="url" name="url" required maxlength="2048" placeholder="https://example.com/hooks/mlgit" value="${values?.url ?? ''}"></label>
  <label>Secret <span class="muted small">optional; deliveries are signed with it (X-Hub-Signature-256)</span>
    <input type="password" name="secret" maxlength="256" autocomplete="new-password">
  </label>
  ${eventBoxes(checked)}
  <label class="check"><input type="checkbox" name="active" value="on" ${values && values.active !== 'on' ? '' : 'checked'}> Active</label>
  <div><button class="primary" type="submit">Add webhook</button></div>
</form>
</section>`;
}

/** Repository settings (repo admins): general, collaborators, webhooks. */
export function repoSettingsPage(view: RepoSettingsView): Html {
  return html`${repoHeader(view.header)}
${view.notice ? html`<p class="ok-box" role="status">${view.notice}</p>` : ''}
${general(view)}
${collaborators(view)}
${hooks(view)}`;
}
