#!/usr/bin/env node
// The program git runs as pre-receive / post-receive inside every mlgit bare repo.
// It only forwards the ref updates to the server's internal hook API and prints the answer:
// git shows our stderr to the pusher as "remote: " lines, and a non-zero exit rejects the push.
// Plain JavaScript with no imports so it starts in ~40 ms.
const hook = process.argv[2];
const url = process.env.MLGIT_HOOK_URL;
const secret = process.env.MLGIT_HOOK_SECRET;

function fail(message) {
  process.stderr.write(`mlgit: ${message}\n`);
  // Fail closed: a push that did not pass the server's checks must not land.
  process.exit(hook === 'pre-receive' ? 1 : 0);
}

if (hook !== 'pre-receive' && hook !== 'post-receive') fail(`unknown hook "${hook}"`);
if (!url || !secret) fail('this repository only accepts pushes through the mlgit server');

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const updates = Buffer.concat(chunks)
  .toString('utf8')
  .split('\n')
  .filter(Boolean)
  .map((line) => {
    const [oldSha, newSha, ref] = line.split(' ');
    return { old: oldSha, new: newSha, ref };
  });

const pushOptions = [];
for (let i = 0; i < Number(process.env.GIT_PUSH_OPTION_COUNT ?? 0); i++) pushOptions.push(process.env[`GIT_PUSH_OPTION_${i}`] ?? '');

const quarantine = {};
for (const name of ['GIT_OBJECT_DIRECTORY', 'GIT_ALTERNATE_OBJECT_DIRECTORIES', 'GIT_QUARANTINE_PATH']) {
  if (process.env[name]) quarantine[name] = process.env[name];
}

let answer;
try {
  const response = await fetch(`${url}/internal/hooks/${hook}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    // started_at: when this process started, so the server's push timeline shows the hook's start-up.
    body: JSON.stringify({ secret, updates, quarantine, push_options: pushOptions, started_at: globalThis.performance.timeOrigin }),
    signal: AbortSignal.timeout(120_000),
  });
  answer = await response.json();
  if (!response.ok) fail(answer?.error?.message ?? `hook API answered ${response.status}`);
} catch (err) {
  fail(`could not reach the mlgit hook API (${err.message})`);
}

for (const message of answer.messages ?? []) process.stderr.write(`${message}\n`);
process.exit(answer.ok ? 0 : 1);
