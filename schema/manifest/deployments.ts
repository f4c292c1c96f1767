// The `deployments:` section's checks a JSON Schema cannot express: the model is one of
// `models:`, served by one entry only, with an image and a command or a port; env names mlgit sets
// are refused.
import type { Segment } from './issues.ts';
import { entries, isRecord } from './plain-data.ts';
import { suggestion } from './suggestions.ts';

/** Set by mlgit for every deployment (manifest or API); an entry may not set them. */
export const RESERVED_DEPLOYMENT_ENV: readonly string[] = ['MLGIT_SERVE_SOCKET', 'MLP_MODEL_PATH', 'MLP_MODEL_NAME', 'MLP_MODEL_VERSION', 'MLP_OUTPUT_DIR', 'PATH', 'HOME'];

export const COMMAND_OR_PORT =
  'command or port is required: a command listening on the unix socket $MLGIT_SERVE_SOCKET (e.g. "python3 serve.py"), or the TCP port the model server ' +
  '(the command, or the image\'s own entrypoint) listens on inside its sandbox, which mlgit relays';

type Report = (segments: Segment[], message: string, target?: 'value' | 'key') => void;

export function checkDeployments(err: Report, value: unknown, models: ReadonlySet<string>, hasTopImage: boolean): void {
  const servedBy = new Map<string, string>();
  for (const [name, entry] of entries(value)) {
    if (!isRecord(entry)) continue;
    const at: Segment[] = ['deployments', name];
    const model = typeof entry.model === 'string' ? entry.model : name;
    const modelAt: Segment[] = entry.model === undefined ? at : [...at, 'model'];
    const target = entry.model === undefined ? 'key' : 'value';
    if (!models.has(model)) err(modelAt, `unknown model "${model}"${suggestion(model, models) || '; a deployment serves one of models: (declare it there)'}`, target);
    const first = servedBy.get(model);
    if (first !== undefined) err(modelAt, `model "${model}" is deployed by deployments.${first} already; one deployment per model`, target);
    else servedBy.set(model, name);
    if (entry.image === undefined && !hasTopImage) err(at, `deployment "${name}" has no image and there is no top-level image`, 'key');
    if (entry.command === undefined && entry.port === undefined) err(at, COMMAND_OR_PORT, 'key');
    if (typeof entry.health_path === 'string' && entry.health_path.split('/').some((s) => s === '..' || s === '.')) err([...at, 'health_path'], 'health_path may not hold "." or ".." segments');
    for (const [env] of entries(entry.env)) {
      if (RESERVED_DEPLOYMENT_ENV.includes(env)) err([...at, 'env', env], `env ${env} is set by mlgit`, 'key');
    }
  }
}
