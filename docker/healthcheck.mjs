// The image's HEALTHCHECK. The server is healthy when GET /readyz answers 200 (its database and
// job queue answer). A runner serves no HTTP: it is healthy while it runs, and when it stops, tini
// (PID 1) exits with it, so the container's state already says so. Which role this container has
// is read from PID 1's command line: `tini -- mlgit <command>`.
import { readFileSync } from 'node:fs';

const argv = readFileSync('/proc/1/cmdline', 'utf8').split('\0').filter(Boolean);
const at = argv.findIndex((arg) => arg === 'mlgit' || arg.endsWith('/mlgit'));
const command = at === -1 ? 'serve' : (argv[at + 1] ?? 'serve');
if (command !== 'serve') process.exit(0);

const url = `http://127.0.0.1:${process.env.PORT || 3000}/readyz`;
try {
  const response = await fetch(url, { signal: AbortSignal.timeout(4000) });
  if (!response.ok) console.error(`${url}: ${response.status} ${await response.text()}`);
  process.exit(response.ok ? 0 : 1);
} catch (error) {
  console.error(`${url}: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
