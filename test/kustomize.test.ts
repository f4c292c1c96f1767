// docker/kustomize (issue 13): the server Deployment with its Service and Ingress, the runner
// Deployment with a ServiceAccount and a Role limited to Jobs and pods in one namespace, config
// from a Secret. Rendered by the real `kubectl kustomize`, every object checked against the API
// types of @kubernetes/client-node 1.4 (as the Kubernetes runtime's Jobs are), the pods against
// the restricted Pod Security Standard, the wiring between objects, and the configuration each
// process would read against mlgit's own config validation.
import type { V1Deployment, V1Ingress, V1NetworkPolicy, V1PersistentVolumeClaim, V1Role, V1RoleBinding, V1Secret, V1Service } from '@kubernetes/client-node';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import { EGRESS_LABEL } from '../runner/runtime/kubernetes-job.ts';
import { loadConfig } from '../server/config.ts';
import { restrictedProblems } from './helpers/fake-kubernetes.ts';
import { schemaProblems } from './helpers/kubernetes-schema.ts';

const API_TYPES: Record<string, string> = {
  Namespace: 'V1Namespace',
  ServiceAccount: 'V1ServiceAccount',
  Role: 'V1Role',
  RoleBinding: 'V1RoleBinding',
  Secret: 'V1Secret',
  Service: 'V1Service',
  PersistentVolumeClaim: 'V1PersistentVolumeClaim',
  Deployment: 'V1Deployment',
  Ingress: 'V1Ingress',
  NetworkPolicy: 'V1NetworkPolicy',
};

type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } };

t.test('docker/kustomize renders to valid, consistent objects', async (t) => {
  const { stdout } = await promisify(execFile)('kubectl', ['kustomize', 'docker/kustomize']);
  const objects = parseAllDocuments(stdout).map((doc) => doc.toJSON() as Obj);
  const one = <T>(kind: string, name?: string) => {
    const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
    if (found.length !== 1) throw new Error(`expected one ${kind} ${name ?? ''}, found ${found.length}`);
    return found[0] as unknown as T;
  };
  t.same(objects.map((o) => o.kind).sort(), ['Deployment', 'Deployment', 'Ingress', 'Namespace', 'NetworkPolicy', 'PersistentVolumeClaim', 'PersistentVolumeClaim', 'Role', 'RoleBinding', 'Secret', 'Service', 'Service', 'ServiceAccount'].sort());
  for (const object of objects) {
    t.same(schemaProblems(object, API_TYPES[object.kind] ?? `no type for ${object.kind}`), [], `${object.kind} ${object.metadata.name} fits ${API_TYPES[object.kind]}`);
    if (object.kind !== 'Namespace') t.equal(object.metadata.namespace, 'mlgit', `${object.kind} ${object.metadata.name} is in the mlgit namespace`);
  }

  const server = one<V1Deployment>('Deployment', 'mlgit-server');
  const runner = one<V1Deployment>('Deployment', 'mlgit-runner');
  for (const deployment of [server, runner]) {
    t.same(restrictedProblems(deployment.spec!.template.spec), [], `${deployment.metadata!.name} passes the restricted Pod Security Standard`);
    t.match(deployment.spec!.template.metadata!.labels, deployment.spec!.selector.matchLabels!, `${deployment.metadata!.name}: the selector matches its pods`);
  }

  await t.test('the runner may touch Jobs and pods in its namespace only', async (t) => {
    const role = one<V1Role>('Role');
    t.same(role.rules, [
      { apiGroups: ['batch'], resources: ['jobs'], verbs: ['create', 'get', 'list', 'watch', 'delete'] },
      { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['pods/log'], verbs: ['get'] },
    ]);
    t.notOk(objects.some((o) => o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding'), 'no cluster-wide rights');
    const binding = one<V1RoleBinding>('RoleBinding');
    t.same(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata!.name });
    t.same(binding.subjects, [{ kind: 'ServiceAccount', name: 'mlgit-runner', namespace: 'mlgit' }]);
    t.equal(runner.spec!.template.spec!.serviceAccountName, 'mlgit-runner');
    t.equal(server.spec!.template.spec!.automountServiceAccountToken, false, 'the server gets no API token');
  });

  await t.test('the Ingress reaches the server through its Service', async (t) => {
    const ingress = one<V1Ingress>('Ingress');
    const backend = ingress.spec!.rules![0]!.http!.paths[0]!.backend.service!;
    const service = one<V1Service>('Service', backend.name);
    t.match(server.spec!.template.metadata!.labels, service.spec!.selector!, 'the Service selects the server pods');
    t.ok(backend.port?.name, 'the Ingress names the port');
    const port = service.spec!.ports!.find((p) => p.name === backend.port?.name);
    t.ok(server.spec!.template.spec!.containers[0]!.ports!.some((p) => p.name === port?.targetPort), 'its target port is the server container port');
    t.notOk(service.spec!.ports!.some((p) => p.targetPort === 'metrics'), 'the metrics port is not behind the Ingress');
  });

  await t.test('no-network jobs are cut off by the NetworkPolicy', async (t) => {
    const policy = one<V1NetworkPolicy>('NetworkPolicy');
    t.same(policy.spec!.podSelector!.matchLabels, { [EGRESS_LABEL]: 'none' }, 'selects the label the Kubernetes runtime puts on jobs without network');
    t.same(policy.spec!.policyTypes, ['Ingress', 'Egress']);
    t.same(policy.spec!.egress ?? [], [], 'no egress rule: nothing allowed');
  });

  await t.test('configuration comes from the Secret and passes mlgit validation', async (t) => {
    const secret = one<V1Secret>('Secret');
    const data = Object.fromEntries(Object.entries(secret.data!).map(([key, value]) => [key, Buffer.from(value, 'base64').toString('utf8')]));
    const envOf = (deployment: V1Deployment) => {
      const container = deployment.spec!.template.spec!.containers[0]!;
      t.same(container.envFrom, [{ secretRef: { name: secret.metadata!.name } }], `${deployment.metadata!.name} reads the Secret (by its generated name)`);
      return { ...data, ...Object.fromEntries(container.env!.map((e) => [e.name, e.value!])) };
    };
    const serverConfig = loadConfig(envOf(server));
    t.equal(serverConfig.runs.runner, 'off', 'the server runs no jobs');
    t.same(serverConfig.metrics, { mode: 'listen', host: '0.0.0.0', port: 9464 });
    t.ok(server.spec!.template.spec!.containers[0]!.ports!.some((p) => p.containerPort === serverConfig.port && p.name === 'http'), 'PORT is the http container port');
    t.match(server.spec!.template.spec!.containers[0]!, { livenessProbe: { httpGet: { path: '/livez' } }, readinessProbe: { httpGet: { path: '/readyz' } } });
    const runnerEnv = envOf(runner);
    const runnerConfig = loadConfig(runnerEnv);
    t.equal(runnerConfig.runs.runtime, 'kubernetes');
    const claim = one<V1PersistentVolumeClaim>('PersistentVolumeClaim', runnerConfig.runs.kubernetes!.workClaim);
    t.same(claim.spec!.accessModes, ['ReadWriteMany'], 'the work claim is shared with job pods on other nodes');
    const mount = runner.spec!.template.spec!.containers[0]!.volumeMounts!.find((m) => m.mountPath === runnerConfig.runs.runnerWorkDir);
    const volume = runner.spec!.template.spec!.volumes!.find((v) => v.name === mount?.name);
    t.equal(volume?.persistentVolumeClaim?.claimName, claim.metadata!.name, 'the runner mounts that claim at MLGIT_RUNNER_WORK_DIR');
    t.equal(new URL(runnerEnv.MLGIT_SERVER_URL!).hostname, `${one<V1Service>('Service', 'mlgit-server').metadata!.name}.mlgit.svc`, 'the runner reaches the server through its Service');
  });
});
