import { html, type Html } from '../html.ts';

export function signInForm(p: { csrf: string; next: string; username?: string; error?: string; signupOpen: boolean }): Html {
  return html`<h1>Sign in</h1>
${p.error ? html`<p class="error-box" role="alert">${p.error}</p>` : ''}
<form class="stack" action="/login" method="post">
  <input type="hidden" name="_csrf" value="${p.csrf}">
  <input type="hidden" name="next" value="${p.next}">
  <label>Username <input type="text" name="username" autocomplete="username" required value="${p.username ?? ''}"></label>
  <label>Password <input type="password" name="password" autocomplete="current-password" required></label>
  <div><button class="primary" type="submit">Sign in</button></div>
</form>
${p.signupOpen ? html`<p>No account yet? <a href="/signup">Sign up</a>.</p>` : ''}`;
}

export function signUpForm(p: { csrf: string; username?: string; email?: string; error?: string }): Html {
  return html`<h1>Sign up</h1>
${p.error ? html`<p class="error-box" role="alert">${p.error}</p>` : ''}
<form class="stack" action="/signup" method="post">
  <input type="hidden" name="_csrf" value="${p.csrf}">
  <label>Username <input type="text" name="username" autocomplete="username" required maxlength="40" value="${p.username ?? ''}"></label>
  <label>Email (optional) <input type="email" name="email" autocomplete="email" value="${p.email ?? ''}"></label>
  <label>Password <input type="password" name="password" autocomplete="new-password" required></label>
  <div><button class="primary" type="submit">Create account</button></div>
</form>`;
}
