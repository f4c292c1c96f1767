// Serving end to end on the docker runtime, against a real Podman engine (Docker Engine API):
// test/helpers/serving-scenario.ts. Needs the job image (scripts/podman-setup.sh).
import t from 'tap';
import { dockerSocketForTests } from './helpers/podman.ts';
import { servingEndToEnd } from './helpers/serving-scenario.ts';

t.test('serving digits on the docker runtime (Podman)', async (t) => {
  await servingEndToEnd(t, { runtime: 'docker', dockerSocket: dockerSocketForTests() });
});
