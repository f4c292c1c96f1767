// A project with a `models:` section whose train job writes a model file of known bytes, for the
// registry tests: each push with a different `acc.txt` yields a version with different bytes.
import { createHash } from 'node:crypto';
import { manifest } from './runs.ts';

/** The train job: reads acc.txt, writes model.bin (MODEL_BYTES bytes derived from it) and metrics.json. */
export const TRAIN_PY = `import json, os
acc = float(open('acc.txt').read().strip())
seed = int(round(acc * 1000))
with open(os.path.join(os.environ['MLP_OUTPUT_DIR'], 'model.bin'), 'wb') as f:
    f.write(bytes((i * 7 + seed) % 256 for i in range(${300_000})))
with open('metrics.json', 'w') as f:
    json.dump({'accuracy': acc}, f)
`;

/** What TRAIN_PY writes for `acc`, computed here independently. */
export function modelBytes(acc: number): Buffer {
  const seed = Math.round(acc * 1000);
  const out = Buffer.alloc(300_000);
  for (let i = 0; i < out.length; i += 1) out[i] = (i * 7 + seed) % 256;
  return out;
}

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export const REGISTRY_MANIFEST = manifest(`jobs:
  train:
    kind: train
    command: python3 train.py
    inputs: [train.py, acc.txt]
    outputs: [{path: model.bin, type: model}]
    metrics: {path: metrics.json, format: json, goals: {accuracy: maximize}}
    timeout: 2m
  lint:
    kind: custom
    command: "true"
models:
  clf:
    from: train
    path: model.bin
    format: other
    promote:
      production:
        require: {metrics: {accuracy: ">= 0.95"}, not_regressed: true, statuses: [ci/integration]}
      champion:
        protected: true
      reviewed:
        approvers: 2
  clf-manual:
    from: train
    path: model.bin
    register: manual
`);

export function projectFiles(acc: number): Record<string, string> {
  return { 'mlproject.yaml': REGISTRY_MANIFEST, 'train.py': TRAIN_PY, 'acc.txt': `${acc}\n` };
}
