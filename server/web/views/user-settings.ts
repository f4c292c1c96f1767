import type { TokenInfo } from '../../domain/accounts.ts';
import { SCOPES } from '../../domain/model.ts';
import { html, type Html } from '../html.ts';
import { timeAgo } from './parts.ts';
import type { FormValues } from './repo-settings.ts';

const SCOPE_HELP: Record<string, string> = {
  read: 'clone and read repositories',
  write: 'push and start runs',
  admin: 'administer repositories (and the site, for site admins)',
  tokens: 'create and revoke tokens',
};

/** Scopes a new token gets unless the form says otherwise: what `git clone` and `git push` need. */
export const DEFAULT_SCOPES = ['read', 'write'];

function tabs(on: 'tokens' | 'password'): Html {
  return html`<nav class="tabs">
  <a href="/settings/tokens" class="${on === 'tokens' ? 'on' : ''}">Access tokens</a>
  <a href="/settings/password" class="${on === 'password' ? 'on' : ''}">Password</a>
</nav>`;
}

export interface TokensView {
  readonly csrf: string;
  readonly tokens: readonly TokenInfo[];
  /** The token just created: its secret is on this page and nowhere else, ever. */
  readonly created: { readonly name: string; readonly token: string } | null;
  readonly notice: string | null;
  readonly error: { readonly message: string; readonly values: FormValues } | null;
}

export function tokensPage(view: TokensView): Html {
  const values = view.error?.values;
  const checked = (scope: string) => (values ? values[`scope.${scope}`] === 'on' : DEFAULT_SCOPES.includes(scope));
  return html`<h1>Settings</h1>
${tabs('tokens')}
${view.notice ? html`<p class="ok-box" role="status">${view.notice}</p>` : ''}
${view.created
  ? html`<section class="ok-box" role="status" aria-labelledby="new-token">
  <h2 id="new-token">New token “${view.created.name}”</h2>
  <p>Copy it now: it is shown only this once (mlgit keeps only its hash).</p>
  <pre class="token" data-copy="${view.created.token}">${view.created.token}</pre>
</section>`
  : ''}
<h2>Your tokens</h2>
${view.tokens.length === 0
  ? html`<p class="muted">No tokens yet.</p>`
  : html`<div class="table-wrap"><table class="settings">
<thead><tr><th scope="col">Name</th><th scope="col">Scopes</th><th scope="col">Created</th><th scope="col">Last used</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
<tbody>
${view.tokens.map(
  (t) => html`<tr>
  <td>${t.name}</td>
  <td>${t.scopes.join(', ')}</td>
  <td>${timeAgo(t.createdAt)}</td>
  <td>${t.lastUsedAt ? timeAgo(t.lastUsedAt) : html`<span class="muted">never</span>`}</td>
  <td><form action="/settings/tokens/${t.id}/revoke" method="post"><input type="hidden" name="_csrf" value="${view.csrf}"><button class="danger" type="submit" aria-label="Revoke ${t.name}">Revoke</button></form></td>
</tr>`,
)}
</tbody></table></div>`}
<h2>New token</h2>
${view.error ? html`<p class="error-box" role="alert">${view.error.message}</p>` : ''}
<form class="stack" action="/settings/tokens" method="post">
  <input type="hidden" name="_csrf" value="${view.csrf}">
  <label>Name <input type="text" name="name" required maxlength="100" placeholder="laptop" value="${values?.name ?? ''}"></label>
  <fieldset><legend>Scopes</legend>
  ${SCOPES.map((s) => html`<label><input type="checkbox" name="scope.${s}" value="on" ${checked(s) ? 'checked' : ''}> ${s} <span class="muted small">${SCOPE_HELP[s] ?? ''}</span></label>`)}
  </fieldset>
  <div><button class="primary" type="submit">Create token</button></div>
</form>`;
}

export function passwordPage(view: { csrf: string; notice: string | null; error: string | null }): Html {
  return html`<h1>Settings</h1>
${tabs('password')}
${view.notice ? html`<p class="ok-box" role="status">${view.notice}</p>` : ''}
${view.error ? html`<p class="error-box" role="alert">${view.error}</p>` : ''}
<form class="stack" action="/settings/password" method="post">
  <input type="hidden" name="_csrf" value="${view.csrf}">
  <label>Current password <input type="password" name="current_password" autocomplete="current-password" required></label>
  <label>New password <input type="password" name="new_password" autocomplete="new-password" required></label>
  <p class="muted small">Changing it signs you out everywhere else (other browsers and login JWTs); your API tokens stay valid.</p>
  <div><button class="primary" type="submit">Change password</button></div>
</form>`;
}
