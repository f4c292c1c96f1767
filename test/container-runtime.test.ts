import t from 'tap';
import { createRuntime } from '../runner/runtime/index.ts';
import { containerRuntimeContract } from './helpers/container-runtime-contract.ts';
import { dockerSocketForTests, JOB_IMAGE } from './helpers/podman.ts';

t.test('docker runtime (Podman service, real image)', async (t) => {
  const runtime = createRuntime({ kind: 'docker', dockerSocket: dockerSocketForTests() });
  t.teardown(() => runtime.close());
  t.same(runtime.warnings, [], 'nothing to warn about');
  containerRuntimeContract(t, {
    runtime,
    image: JOB_IMAGE,
    python: 'python3',
    reportsOom: true,
    limitsPids: true,
    usesImages: true,
    engineEnv: ['HOSTNAME', 'container', 'TERM', 'PWD', 'SHLVL', 'OLDPWD', '_'],
  });
});

t.test('process runtime (bubblewrap)', async (t) => {
  const runtime = createRuntime({ kind: 'process' });
  t.teardown(() => runtime.close());
  t.match(runtime.warnings.join('\n'), /sandboxed with bubblewrap/, 'bwrap is installed on these machines and used');
  containerRuntimeContract(t, {
    runtime,
    image: JOB_IMAGE,
    // Debian's python3 has scikit-learn (python3-sklearn); the job PATH finds it, not a pyenv shim.
    python: 'python3',
    reportsOom: false,
    limitsPids: false,
    usesImages: false,
    engineEnv: ['PWD', 'SHLVL', 'OLDPWD', '_'],
  });
});
