/** A valid mlproject.yaml of about 300 lines, for the validation benchmark and its test. */
/** Params, datasets, 19 jobs chained in pairs with templates, matrices, env, outputs, metrics; triggers. */
export function generateLargeManifest(): string {
  const out = ['version: 1', 'name: big-project', 'image: localhost/mlgit-python:bookworm', 'resources: {cpu: 2, memory: 4Gi}', 'params:', '  schema:'];
  for (let i = 0; i < 10; i++) out.push(`    p${i}: {type: float, default: 0.${i + 1}, min: 0, max: 10, description: "param ${i}"}`);
  out.push('datasets:');
  for (let i = 0; i < 5; i++) out.push(`  d${i}: {path: data/d${i}.csv}`);
  out.push('jobs:');
  for (let j = 0; j < 19; j++) {
    out.push(
      `  job${j}:`,
      `    kind: ${j % 2 ? 'evaluate' : 'train'}`,
      '    command:',
      `      - python step${j}.py --data \${{ datasets.d${j % 5}.path }} --p \${{ params.p${j % 10} }}`,
      `      - python report.py --out \${{ outputs_dir }}/report${j}.json --lr \${{ matrix.lr }}`,
      `    inputs: [step${j}.py, "src/**/*.py", data/]`,
      '    env:',
      `      STEP: "${j}"`,
      '      OMP_NUM_THREADS: "2"',
      `    outputs: [{path: out${j}.bin, type: artifact}]`,
      `    metrics: {path: m${j}.json, format: json, primary: acc, goals: {acc: maximize}}`,
      '    timeout: 30m',
      '    retries: {max: 2, when: [infra_error, oom]}',
      '    matrix: {lr: [0.1, 0.01]}',
    );
    if (j % 2) out.push(`    depends_on: [job${j - 1}]`);
  }
  out.push('compare:', '  baseline: main', '  fail_on_regression: true', '  thresholds: {acc: {max_drop: "1%"}}');
  out.push('triggers:', '  push: {branches: [main, "exp/**"], paths_ignore: ["docs/**"]}', '  manual: {jobs: [job0, job1]}');
  return `${out.join('\n')}\n`;
}
