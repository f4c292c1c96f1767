import type { Delivery, Hook } from '../../domain/webhooks.ts';
import { html, type Html } from '../html.ts';
import { repoPath, timeAgo } from './parts.ts';
import { repoHeader, type RepoHeader } from './repo-header.ts';
import { pager, type Paging } from './repo-list.ts';
import { eventBoxes, type FormValues } from './repo-settings.ts';

function hookPath(header: RepoHeader, hook: Pick<Hook, 'id'>, ...rest: string[]): string {
  return repoPath(header.repo, 'settings', 'hooks', String(hook.id), ...rest);
}

function deliveryStatus(d: Pick<Delivery, 'status' | 'responseStatus'>): Html {
  const cls = d.status === 'delivered' ? 'success' : d.status === 'failed' ? 'failed' : 'queued';
  return html`<span class="status ${cls}">${d.status}${d.responseStatus !== null ? html` · ${d.responseStatus}` : ''}</span>`;
}

function back(header: RepoHeader): Html {
  return html`<p><a href="${repoPath(header.repo, 'settings')}#webhooks">← All webhooks</a></p>`;
}

export interface HookView {
  readonly header: RepoHeader;
  readonly csrf: string;
  readonly hook: Hook;
  readonly deliveries: readonly Delivery[];
  readonly total: number;
  readonly paging: Paging;
  readonly notice: string | null;
  /** A refused edit: the reason and what the form held. */
  readonly error: { readonly message: string; readonly values: FormValues } | null;
}

/** The hook's settings as a form (the secret is never shown: a new one replaces it, empty keeps it). */
function editForm(view: HookView): Html {
  const { hook } = view;
  const values = view.error?.values;
  const checked = (event: string) => (values ? values[`event.${event}`] === 'on' : hook.events.includes(event as Hook['events'][number]));
  const active = values ? values.active === 'on' : hook.active;
  return html`<h3>Settings</h3>
${view.error ? html`<p class="error-box" role="alert">${view.error.message}</p>` : ''}
<form class="stack" action="${hookPath(view.header, hook)}" method="post">
  <input type="hidden" name="_csrf" value="${view.csrf}">
  <label>Payload URL <input type="url" name="url" required maxlength="2048" value="${values?.url ?? hook.url}"></label>
  <label>New secret <span class="muted small">${hook.hasSecret ? 'leave empty to keep the current one' : 'optional; none now'}</span>
    <input type="password" name="secret" maxlength="256" autocomplete="new-password">
  </label>
  ${eventBoxes(checked)}
  <label class="check"><input type="checkbox" name="active" value="on" ${active ? 'checked' : ''}> Active${hook.active ? '' : html` <span class="muted small">(switching it on again clears its failures)</span>`}</label>
  <div><button class="primary" type="submit">Save webhook</button></div>
</form>`;
}

/** One hook: its settings, the delete button and its delivery log (newest first). */
export function hookPage(view: HookView): Html {
  const { hook } = view;
  return html`${repoHeader(view.header)}
${back(view.header)}
${view.notice ? html`<p class="ok-box" role="status">${view.notice}</p>` : ''}
<h2 class="mono">${hook.url}</h2>
<dl class="facts">
  <dt>Events</dt><dd>${hook.events.join(', ')}</dd>
  <dt>State</dt><dd>${hook.active ? 'active' : html`off${hook.disabledReason ? html` (${hook.disabledReason})` : ''}`}</dd>
  <dt>Secret</dt><dd>${hook.hasSecret ? 'set (never shown)' : 'none'}</dd>
  <dt>Failures in a row</dt><dd>${hook.consecutiveFailures}</dd>
  <dt>Added</dt><dd>${timeAgo(hook.createdAt)}</dd>
</dl>
${editForm(view)}
<form action="${hookPath(view.header, hook, 'delete')}" method="post">
  <input type="hidden" name="_csrf" value="${view.csrf}">
  <button class="danger" type="submit">Delete this webhook</button>
</form>
<h2>Recent deliveries <span class="muted small">(${view.total})</span></h2>
${view.deliveries.length === 0
  ? html`<p class="muted">No deliveries yet.</p>`
  : html`<div class="table-wrap"><table class="settings">
<thead><tr><th scope="col">Delivery</th><th scope="col">Event</th><th scope="col">Result</th><th scope="col" class="num">Time</th><th scope="col">When</th></tr></thead>
<tbody>
${view.deliveries.map(
  (d) => html`<tr>
  <td><a class="mono" href="${hookPath(view.header, hook, 'deliveries', d.id)}">${d.id.slice(0, 8)}</a>${d.redeliveryOf ? html` <span class="badge">redelivery</span>` : ''}</td>
  <td>${d.event}</td>
  <td>${deliveryStatus(d)}${d.error ? html` <span class="muted small">${d.error}</span>` : ''}</td>
  <td class="num">${d.durationMs !== null ? `${d.durationMs} ms` : ''}</td>
  <td>${timeAgo(d.createdAt)}</td>
</tr>`,
)}
</tbody></table></div>
${pager(view.paging)}`}`;
}

function headers(map: Readonly<Record<string, string>> | null): Html {
  if (!map || Object.keys(map).length === 0) return html`<p class="muted">none</p>`;
  return html`<pre class="note">${Object.entries(map)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\n')}</pre>`;
}

/** JSON bodies indented for reading (the bytes sent are in the log as they were; this is only how they are shown). */
function pretty(body: string): string {
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}

/** One delivery: what was sent and what came back, and the redeliver button. */
export function deliveryPage(view: { header: RepoHeader; csrf: string; hook: Hook; delivery: Delivery }): Html {
  const { hook, delivery: d } = view;
  return html`${repoHeader(view.header)}
<p><a href="${hookPath(view.header, hook)}">← Deliveries of ${hook.url}</a></p>
<div class="run-head">
  <h2>Delivery <span class="mono">${d.id}</span></h2>
  <form action="${hookPath(view.header, hook, 'deliveries', d.id, 'redeliver')}" method="post">
    <input type="hidden" name="_csrf" value="${view.csrf}">
    <button type="submit">Redeliver</button>
  </form>
</div>
<dl class="facts">
  <dt>Event</dt><dd>${d.event}</dd>
  <dt>Result</dt><dd>${deliveryStatus(d)}${d.error ? html` ${d.error}` : ''}</dd>
  <dt>URL</dt><dd class="mono">${d.url}</dd>
  <dt>Attempts</dt><dd>${d.attempts}</dd>
  <dt>Duration</dt><dd>${d.durationMs !== null ? `${d.durationMs} ms` : '–'}</dd>
  <dt>Created</dt><dd>${timeAgo(d.createdAt)}</dd>
  ${d.redeliveryOf ? html`<dt>Redelivery of</dt><dd><a class="mono" href="${hookPath(view.header, hook, 'deliveries', d.redeliveryOf)}">${d.redeliveryOf}</a></dd>` : ''}
</dl>
<h3>Request</h3>
${headers(d.requestHeaders)}
<pre class="note">${pretty(d.requestBody)}</pre>
<h3>Response</h3>
${headers(d.responseHeaders)}
${d.responseBody !== null ? html`<pre class="note">${d.responseBody}</pre>` : html`<p class="muted">no body</p>`}`;
}
