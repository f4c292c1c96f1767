// What a `${{ ... }}` template may name (mlproject.md, "Templates"), checked at push so a typo
// never reaches a runner.
import { suggestion } from './suggestions.ts';

export const TEMPLATE_RE = /\$\{\{([^}]*)\}\}/g;
/** Names every job can use, whatever its params, datasets and matrix. */
export const FIXED_TEMPLATE_NAMES: ReadonlySet<string> = new Set(['commit.sha', 'commit.short', 'ref', 'job.name', 'run.id', 'outputs_dir']);

/** Why `expr` is not a usable template name in this job, or null when it is. */
export function templateProblem(expr: string, params: ReadonlySet<string>, checkParams: boolean, datasets: ReadonlySet<string>, matrix: ReadonlySet<string>): string | null {
  if (FIXED_TEMPLATE_NAMES.has(expr)) return null;
  const parts = expr.split('.');
  const [root, name, rest] = parts;
  if (root === 'params' && parts.length === 2 && name) {
    if (!checkParams || params.has(name)) return null;
    return `template \${{ ${expr} }}: param "${name}" is not declared in params.schema${suggestion(name, params)}`;
  }
  if (root === 'datasets' && name && parts.length <= 3) {
    if (rest !== 'path') return `template \${{ ${expr} }}: use \${{ datasets.${name}.path }}`;
    if (datasets.has(name)) return null;
    return `template \${{ ${expr} }}: dataset "${name}" is not declared in datasets${suggestion(name, datasets)}`;
  }
  if (root === 'matrix' && parts.length === 2 && name) {
    if (matrix.has(name)) return null;
    return `template \${{ ${expr} }}: "${name}" is not in this job's matrix${suggestion(name, matrix)}`;
  }
  const known = ['params.<name>', 'datasets.<name>.path', 'matrix.<name>', ...FIXED_TEMPLATE_NAMES];
  const hint = suggestion(expr, FIXED_TEMPLATE_NAMES);
  return `unknown template \${{ ${expr} }}${hint}${hint ? '' : ` (known: ${known.join(', ')})`}`;
}
