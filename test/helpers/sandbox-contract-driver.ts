// Runs the hostile sandbox checks as whoever starts it and prints them as JSON: how
// sandbox-contract.ts runs them as an unprivileged runner (started with setpriv as `mlgit-test`).
import type { SandboxName } from '../../runner/runtime/sandbox/types.ts';
import { hostileChecks } from './sandbox-contract.ts';

process.stdout.write(JSON.stringify(await hostileChecks(process.argv[2] as SandboxName)));
