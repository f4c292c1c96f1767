// Matrix jobs: `matrix: {lr: [0.1, 0.01]}` expands one job into `train[lr=0.1]`, `train[lr=0.01]`.
import { DEFAULT_MAX_MATRIX_EXPANSIONS, type Job, type Scalar } from './types.ts';

export interface MatrixExpansion {
  /** `train[lr=0.1,depth=3]`, or the job id itself without a matrix. */
  name: string;
  values: Record<string, Scalar>;
}

/** Number of jobs a matrix expands to (saturates at Number.MAX_SAFE_INTEGER). */
export function matrixSize(matrix: Readonly<Record<string, readonly unknown[]>> | undefined): number {
  if (!matrix) return 1;
  let n = 1;
  for (const values of Object.values(matrix)) {
    n = Math.min(n * values.length, Number.MAX_SAFE_INTEGER);
  }
  return n;
}

/**
 * Expands a job's matrix in declaration order, the first key varying slowest:
 * `{lr: [0.1, 0.01], depth: [3]}` -> `train[lr=0.1,depth=3]`, `train[lr=0.01,depth=3]`.
 * Throws above `limit`, so callers never materialise a huge product.
 */
export function expandMatrix(id: string, job: Pick<Job, 'matrix'>, limit: number = DEFAULT_MAX_MATRIX_EXPANSIONS): MatrixExpansion[] {
  const matrix = job.matrix;
  if (!matrix || Object.keys(matrix).length === 0) return [{ name: id, values: {} }];
  const size = matrixSize(matrix);
  if (size > limit) throw new RangeError(`matrix of job "${id}" expands to ${size} jobs; the limit is ${limit}`);
  let combos: Array<Array<[string, Scalar]>> = [[]];
  for (const [key, values] of Object.entries(matrix)) {
    const next: Array<Array<[string, Scalar]>> = [];
    for (const combo of combos) for (const value of values) next.push([...combo, [key, value]]);
    combos = next;
  }
  return combos.map((combo) => ({
    name: `${id}[${combo.map(([k, v]) => `${k}=${String(v)}`).join(',')}]`,
    values: Object.fromEntries(combo),
  }));
}
