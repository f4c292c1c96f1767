import { html, type Html } from '../html.ts';

export interface NewRepoForm {
  readonly csrf: string;
  readonly owner: string;
  readonly values?: { readonly name?: string; readonly description?: string; readonly kind?: string; readonly visibility?: string };
  readonly error?: string;
}

export function newRepoPage({ csrf, owner, values = {}, error }: NewRepoForm): Html {
  const kind = values.kind === 'dataset' ? 'dataset' : 'model';
  const isPrivate = values.visibility === 'private';
  return html`<h1>New repository</h1>
${error ? html`<p class="error-box" role="alert">${error}</p>` : ''}
<form class="stack" action="/new" method="post">
  <input type="hidden" name="_csrf" value="${csrf}">
  <label>Name <span class="muted">(${owner}/…)</span>
    <input type="text" name="name" required maxlength="100" pattern="[A-Za-z0-9][A-Za-z0-9._\\-]*" value="${values.name ?? ''}">
  </label>
  <label>Description <input type="text" name="description" maxlength="2000" value="${values.description ?? ''}"></label>
  <fieldset>
    <legend>Kind</legend>
    <label><input type="radio" name="kind" value="model" ${kind === 'model' ? 'checked' : ''}> Model</label>
    <label><input type="radio" name="kind" value="dataset" ${kind === 'dataset' ? 'checked' : ''}> Dataset</label>
  </fieldset>
  <fieldset>
    <legend>Visibility</legend>
    <label><input type="radio" name="visibility" value="public" ${isPrivate ? '' : 'checked'}> Public: anyone can see and clone it</label>
    <label><input type="radio" name="visibility" value="private" ${isPrivate ? 'checked' : ''}> Private: only you and collaborators</label>
  </fieldset>
  <div><button class="primary" type="submit">Create repository</button></div>
</form>`;
}
