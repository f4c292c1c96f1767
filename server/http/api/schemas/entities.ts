// The shared entities of the REST API, shaped exactly like present.ts and present-run.ts output.
// Response schemas make fastify serialize with fast-json-stringify, which drops any property not
// listed here: a field added to a presenter must be added here too (test/openapi.test.ts checks).

const nullableString = { type: ['string', 'null'] } as const;
const dateTime = { type: 'string', format: 'date-time' } as const;
const nullableDateTime = { type: ['string', 'null'], format: 'date-time' } as const;

export const userSchema = {
  $id: 'User',
  type: 'object',
  properties: {
    id: { type: 'integer' },
    username: { type: 'string' },
    email: nullableString,
    is_admin: { type: 'boolean' },
    created_at: dateTime,
  },
} as const;

export const repoSchema = {
  $id: 'Repo',
  type: 'object',
  properties: {
    id: { type: 'integer' },
    owner: { type: 'string' },
    name: { type: 'string' },
    full_name: { type: 'string' },
    description: { type: 'string' },
    private: { type: 'boolean' },
    kind: { type: 'string', enum: ['model', 'dataset'] },
    default_branch: { type: 'string' },
    protected_branches: { type: 'array', items: { type: 'string' } },
    fork_parent_id: { type: ['integer', 'null'] },
    clone_url: { type: 'string' },
    created_at: dateTime,
    updated_at: dateTime,
    pushed_at: nullableDateTime,
  },
} as const;

/** Object count and bytes of LFS storage (a repo's, a user's). */
export const lfsUsageSchema = { type: 'object', properties: { objects: { type: 'integer' }, bytes: { type: 'integer' } } } as const;

export const runSchema = {
  $id: 'Run',
  type: 'object',
  properties: {
    id: { type: 'integer' },
    repository: { type: 'string', description: 'owner/name' },
    commit: { type: 'string' },
    ref: nullableString,
    project: { type: 'string' },
    job: { type: 'string' },
    job_id: { type: 'string' },
    kind: { type: 'string' },
    trigger: { type: 'string' },
    status: { type: 'string', enum: ['queued', 'running', 'success', 'failed', 'cancelled', 'timed_out', 'cached', 'error'] },
    attempt: { type: 'integer' },
    image: { type: 'string' },
    depends_on: { type: 'array', items: { type: 'integer' } },
    cache_key: nullableString,
    cached_from: { type: ['integer', 'null'] },
    runner: nullableString,
    exit_code: { type: ['integer', 'null'] },
    message: nullableString,
    metric_problems: { type: 'array', items: { type: 'string' } },
    comparison: {
      type: ['object', 'null'],
      additionalProperties: true,
      description: 'Comparison with the baseline run (baseline, per-metric base/head/delta/relative/goal/regressed, regressed names), as stored when the run finished.',
    },
    cancel_requested: { type: 'boolean' },
    created_at: dateTime,
    started_at: nullableDateTime,
    finished_at: nullableDateTime,
    duration_ms: { type: ['integer', 'null'] },
    links: { type: 'object', properties: { self: { type: 'string' }, logs: { type: 'string' }, outputs: { type: 'string' } } },
  },
} as const;

/** Summary metrics of a run: metric name to number (names are the project's own). */
export const metricsMap = { type: 'object', additionalProperties: { type: 'number' } } as const;
