/**
 * A browser as far as the web UI's server side can tell: one cookie jar, forms posted
 * url-encoded with the CSRF token the last page carried, redirects not followed (tests look at them).
 */
export class WebClient {
  private readonly cookies = new Map<string, string>();
  /** The `_csrf` value of the last page that had a form. */
  csrf: string | null = null;

  constructor(readonly baseUrl: string) {}

  async get(path: string): Promise<WebResponse> {
    return this.send('GET', path);
  }

  /** Posts a form; `_csrf` is the last page's token unless the form names its own (or null for none). */
  async post(path: string, form: Record<string, string | null> = {}): Promise<WebResponse> {
    const fields: Record<string, string> = {};
    const withToken = { _csrf: this.csrf, ...form };
    for (const [key, value] of Object.entries(withToken)) if (value !== null) fields[key] = value;
    return this.send('POST', path, new URLSearchParams(fields).toString());
  }

  /** Signs in through the form; answers the POST's response (303 on success). */
  async signIn(username: string, password: string): Promise<WebResponse> {
    await this.get('/login');
    return this.post('/login', { username, password });
  }

  cookieHeader(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  private async send(method: string, path: string, body?: string): Promise<WebResponse> {
    const headers: Record<string, string> = { accept: 'text/html' };
    if (this.cookies.size > 0) headers.cookie = this.cookieHeader();
    if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    const response = await fetch(this.baseUrl + path, { method, headers, body, redirect: 'manual' });
    for (const line of response.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (/max-age=0/i.test(line) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const text = await response.text();
    const token = /name="_csrf" value="([^"]+)"/.exec(text);
    if (token) this.csrf = token[1]!;
    return { status: response.status, headers: response.headers, text, title: /<title>([^<]*)<\/title>/.exec(text)?.[1] ?? null };
  }
}

export interface WebResponse {
  status: number;
  headers: Headers;
  text: string;
  title: string | null;
}
