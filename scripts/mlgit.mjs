#!/usr/bin/env node
// The `mlgit` command. The sources are TypeScript run through tsx's loader (no build step).
import v8 from 'node:v8';
import { register } from 'tsx/esm/api';

// V8's young generation grows to 16 MB semi-spaces (48 MB touched) under a burst of requests and
// keeps them: ~25 MB of the server's idle memory. Bytes of packs and objects live in Buffers
// outside the heap, so small semi-spaces cost a few more (cheaper) scavenges and no throughput
// measured in bench:clone; see the README's memory figures.
v8.setFlagsFromString('--max-semi-space-size=2');

register();
const { main } = await import('../server/cli.ts');
process.exitCode = await main(process.argv.slice(2));
