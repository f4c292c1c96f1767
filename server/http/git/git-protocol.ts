// A key starts with a letter or digit: option-like entries (`--upload-pack=...`, `-c`) are dropped.
const ENTRY = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}(=[A-Za-z0-9._-]{0,64})?$/;

/**
 * The `Git-Protocol` header becomes GIT_PROTOCOL for git. Only `key[=value]` entries joined by
 * ':' pass (e.g. `version=2`); anything else is dropped, so a header can never smuggle options.
 */
export function sanitizeGitProtocol(header: string | string[] | undefined): string | null {
  const raw = Array.isArray(header) ? header.join(':') : header;
  if (!raw || raw.length > 512) return null;
  const entries = raw.split(':').filter((entry) => ENTRY.test(entry));
  return entries.length ? entries.join(':') : null;
}

export function isProtocolV2(protocol: string | null): boolean {
  return !!protocol && protocol.split(':').includes('version=2');
}
