// The model-server path of a pass-through request (/serve/:owner/:repo/:model/<rest>): <rest> as
// the client sent it (still percent-encoded) with its query. Dot segments are refused, also when
// encoded (%2e%2e), as are encoded slashes and backslashes and NUL: the path must mean the same to
// every parser between the client and the model, and never climb out of the model's prefix.
import { RequestRefused } from './bounded-body.ts';

/** Leading segments of the route: '', 'serve', owner, repo, model. */
const PREFIX_SEGMENTS = 5;

export function passThroughPath(rawUrl: string): string {
  const at = rawUrl.indexOf('?');
  const pathPart = at >= 0 ? rawUrl.slice(0, at) : rawUrl;
  const query = at >= 0 ? rawUrl.slice(at) : '';
  const rest = pathPart.split('/').slice(PREFIX_SEGMENTS);
  for (const segment of rest) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      throw refused('the path has malformed percent-encoding');
    }
    if (decoded === '.' || decoded === '..') throw refused('the path may not contain "." or ".." segments');
    if (/[/\\\0]/.test(decoded)) throw refused('the path may not contain encoded slashes, backslashes or NUL');
  }
  return `/${rest.join('/')}${query}`;
}

function refused(message: string): RequestRefused {
  return new RequestRefused(400, 'bad_request', message);
}
