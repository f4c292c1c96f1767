#!/usr/bin/env -S node --max-semi-space-size=2
// The `mlgit` command. The sources are TypeScript run through tsx's loader (no build step).
//
// --max-semi-space-size=2 (here, in `npm start` and wherever the server is started): V8's young
// generation otherwise grows to 16 MB semi-spaces under a burst of requests and keeps them, ~16 MB
// of the server's idle memory (issue 15). Packs and objects pass in Buffers outside the heap, so
// smaller semi-spaces cost a few more, cheaper scavenges and no clone throughput (bench:clone).
// V8 reads the flag only at start: v8.setFlagsFromString here would be too late.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../server/cli.ts');
process.exitCode = await main(process.argv.slice(2));
