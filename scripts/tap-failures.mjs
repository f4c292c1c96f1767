#!/usr/bin/env node
// After a failed `tap` run, prints every failing assertion with the path of subtests above it
// and its diagnostic block, read from the per-file results tap keeps in .tap/test-results.
// CI logs are long and often shown only by their tail: this puts what failed at the end.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = process.argv[2] ?? '.tap/test-results';

function* tapFiles(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* tapFiles(path);
    else if (name.endsWith('.tap')) yield path;
  }
}

function failuresIn(text) {
  const lines = text.split('\n');
  const subtests = []; // { indent, name, failed }
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const indent = line.length - line.trimStart().length;
    const subtest = /^\s*# Subtest: (.*)$/.exec(line);
    if (subtest) {
      while (subtests.length > 0 && subtests[subtests.length - 1].indent >= indent) subtests.pop();
      subtests.push({ indent, name: subtest[1], failed: false });
      continue;
    }
    const notOk = /^\s*not ok \d+ - (.*?)(?: # time=.*)?$/.exec(line);
    if (!notOk) continue;
    // A subtest's own "not ok" only repeats the failures inside it, already printed.
    const closed = subtests.findLast((entry) => entry.name === notOk[1] && entry.indent >= indent);
    if (closed?.failed) continue;
    for (const entry of subtests) entry.failed = true;
    const next = lines[i + 1] ?? '';
    const diagnostic = [];
    if (next.trim() === '---') {
      for (let j = i + 1; j < lines.length; j++) {
        diagnostic.push(lines[j]);
        if (lines[j].trim() === '...') break;
      }
    }
    const path = subtests.filter((entry) => entry.indent <= indent).map((entry) => entry.name);
    out.push([`${path.join(' > ')} > ${line.trim()}`, ...diagnostic.slice(0, 40)].join('\n'));
  }
  return out;
}

let failed = 0;
for (const file of tapFiles(root)) {
  const failures = failuresIn(readFileSync(file, 'utf8'));
  if (failures.length === 0) continue;
  console.log(`\n### ${file}`);
  for (const failure of failures) console.log(failure);
  failed++;
}
console.log(`\n${failed} test file(s) with failures`);
