import { readdirSync } from 'node:fs';

/**
 * The few /etc entries programs need (dynamic linker cache and Debian alternatives, which is how
 * libblas.so.3 resolves; user and group names; time zone; TLS roots; Python's config). Never all of
 * /etc: it holds shadow, ssh host keys and the like.
 */
const ETC_ENTRIES = [
  'alternatives', 'ld.so.cache', 'ld.so.conf', 'ld.so.conf.d', 'passwd', 'group', 'nsswitch.conf',
  'localtime', 'timezone', 'ssl', 'ca-certificates', 'ca-certificates.conf', 'mime.types', 'protocols',
  'services', 'hosts', 'host.conf', 'gai.conf', 'resolv.conf', 'matplotlibrc',
];

/** Top-level system paths: usually symlinks into /usr on current distributions, directories on older ones. */
export const SYSTEM_ROOTS = ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'];

/** What every sandbox shows of the host's /etc (names below /etc; absent ones are skipped). */
export function etcEntries(): string[] {
  return [...ETC_ENTRIES, ...pythonEtcEntries()];
}

function pythonEtcEntries(): string[] {
  try {
    return readdirSync('/etc').filter((name) => name.startsWith('python3'));
  } catch {
    return [];
  }
}
