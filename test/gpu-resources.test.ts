// resources.gpu (issue 13, Kubernetes runtime): the manifest's GPUs reach the job spec the server
// sends (only when asked for, so other specs and cache keys are unchanged) and become the
// runtime's limits.gpus, which only the kubernetes runtime grants (nvidia.com/gpu in the Job).
import t from 'tap';
import { runtimeLimits } from '../runner/runtime/limits.ts';
import { parseManifest } from '../schema/manifest/parse.ts';
import { loadConfig } from '../server/config.ts';
import { planRuns } from '../server/domain/runs/plan.ts';

function plan(resources: string) {
  const { manifest, errors } = parseManifest(`version: 1\nname: gpu\nimage: img\njobs:\n  train:\n    kind: train\n    command: python3 train.py\n    ${resources}\n`);
  if (!manifest) throw new Error(JSON.stringify(errors));
  const [run] = planRuns(manifest, { commitSha: 'a'.repeat(40), ref: 'refs/heads/main', selectedJobs: null, params: {}, inputIds: () => ({}), remoteDatasets: {}, limits: loadConfig({}).runs });
  return run!;
}

t.test('the manifest asks, the job spec carries it', async (t) => {
  t.equal(plan('resources: {gpu: 2, cpu: 2}').spec.job.resources.gpus, 2);
  t.notOk('gpus' in plan('resources: {cpu: 2}').spec.job.resources, 'no gpus key when none is asked for');
  t.notOk('gpus' in plan('resources: {gpu: 0}').spec.job.resources, 'nor for gpu: 0');
  t.not(plan('resources: {gpu: 1}').cacheKey, plan('resources: {cpu: 1}').cacheKey, 'a GPU job does not share a cache key with a CPU one');
  t.equal(plan('resources: {cpu: 1}').cacheKey, plan('resources: {cpu: 1}').cacheKey);
});

t.test('runtime limits: GPUs on the kubernetes runtime only', async (t) => {
  const resources = { cpus: 2, memoryBytes: 1024, pids: 64 };
  t.same(runtimeLimits(resources, { name: 'docker' }), resources, 'no GPUs: any runtime');
  t.same(runtimeLimits({ ...resources, gpus: 1 }, { name: 'kubernetes' }), { ...resources, gpus: 1 });
  for (const name of ['docker', 'process'] as const) {
    t.throws(() => runtimeLimits({ ...resources, gpus: 1 }, { name }), { name: 'RuntimeError', message: `this job asks for 1 GPU(s) (resources.gpu) and the ${name} runtime cannot grant GPUs: run it on a runner with MLGIT_RUNTIME=kubernetes` });
  }
});
