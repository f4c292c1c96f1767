// The typed shape of mlproject.yaml v1 (mirrors mlproject.schema.json) and of parse results.

export type Scalar = string | number | boolean;

export interface Resources {
  cpu?: number;
  memory?: string;
  gpu?: number;
}

export interface ParamSpec {
  type: 'int' | 'float' | 'string' | 'bool' | 'enum';
  default?: Scalar;
  min?: number;
  max?: number;
  values?: Scalar[];
  description?: string;
}

export interface Dataset {
  path: string;
  repo?: string;
  ref?: string;
}

export interface JobOutput {
  path: string;
  type?: 'artifact' | 'model' | 'dir';
}

export interface JobMetrics {
  path: string;
  format?: 'json' | 'yaml' | 'jsonl' | 'csv';
  primary?: string;
  goals?: Record<string, 'maximize' | 'minimize'>;
}

export interface Job {
  kind: 'train' | 'evaluate' | 'custom';
  command: string | string[];
  image?: string;
  resources?: Resources;
  env?: Record<string, string>;
  depends_on?: string[];
  inputs?: string[];
  params?: string[];
  datasets?: string[];
  outputs?: JobOutput[];
  metrics?: JobMetrics;
  timeout?: string;
  retries?: { max?: number; when?: Array<'infra_error' | 'timeout' | 'oom' | 'any'> };
  matrix?: Record<string, Scalar[]>;
  cache?: boolean;
}

export interface Threshold {
  max_drop?: number | string;
  max_rise?: number | string;
}

export type ModelFormat = 'sklearn' | 'onnx' | 'safetensors' | 'pickle' | 'other';

/** `models.<name>.promote.<alias>`: what a version must meet before the alias may point at it. */
export interface Promotion {
  require?: {
    /** metric -> comparison such as ">= 0.95". */
    metrics?: Record<string, string>;
    not_regressed?: boolean;
    /** Commit status contexts that must be `success` on the version's commit. */
    statuses?: string[];
  };
  approvers?: number;
  protected?: boolean;
}

export interface ModelSpec {
  from: string;
  path: string;
  format?: ModelFormat;
  /** `auto` (default): every successful run of `from` registers a version; `manual`: only a request does. */
  register?: 'auto' | 'manual';
  description?: string;
  promote?: Record<string, Promotion>;
}

/** `deployments.<name>`: a model alias served behind mlgit (the same fields as the deployments API's body). */
export interface DeploymentEntry {
  model?: string;
  alias?: string;
  /** Absent: the image's own entrypoint runs (then `port` is required). */
  command?: string;
  image?: string;
  port?: number;
  health_path?: string;
  replicas?: number;
  resources?: { cpu?: number; memory?: string };
  env?: Record<string, string>;
  public?: boolean;
}

export interface Manifest {
  version: 1;
  name: string;
  description?: string;
  image?: string;
  resources?: Resources;
  env?: Record<string, string>;
  params?: { file?: string; schema?: Record<string, ParamSpec> };
  datasets?: Record<string, Dataset>;
  jobs: Record<string, Job>;
  compare?: { baseline?: string; fail_on_regression?: boolean; thresholds?: Record<string, Threshold> };
  triggers?: {
    push?: { branches?: string[]; branches_ignore?: string[]; paths?: string[]; paths_ignore?: string[]; jobs?: string[] };
    tag?: { tags?: string[]; jobs?: string[] };
    manual?: { jobs?: string[] };
  };
  cache?: boolean;
  models?: Record<string, ModelSpec>;
  deployments?: Record<string, DeploymentEntry>;
}

export interface ManifestIssue {
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
  /** YAML path such as `jobs.train.depends_on[0]`; empty for the whole document. */
  path: string;
  message: string;
  severity: 'error' | 'warning';
  /** The source line and a caret line under `column`. */
  frame: string;
}

export interface ParseOptions {
  /** Name used in rendered issues (default `mlproject.yaml`). */
  file?: string;
  /** Files larger than this are rejected before parsing (default 1 MiB). */
  maxBytes?: number;
  /** Hard cap on the jobs one matrix expands to (default 64). */
  maxMatrixExpansions?: number;
  /** When given, `inputs` and in-repo dataset paths must exist in the pushed tree. */
  treeHasPath?: (path: string) => boolean;
  /** How messages name that tree (default `the pushed tree`; `mlgit validate` says `the git index`). */
  treeName?: string;
}

export interface ParseResult {
  manifest: Manifest | null;
  errors: ManifestIssue[];
  warnings: ManifestIssue[];
  /**
   * The document as plain data even when it has errors (null when it could not be read as
   * YAML at all), so pre-receive can still tell which refs the author meant to trigger.
   */
  data: unknown;
}

/** The manifest's name, at the repository root. */
export const DEFAULT_FILE = 'mlproject.yaml';
export const DEFAULT_MAX_BYTES = 1024 * 1024;
export const DEFAULT_MAX_MATRIX_EXPANSIONS = 64;
/** Aliases a manifest may expand; a few anchors for shared env are fine, a billion laughs are not. */
export const MAX_ALIAS_COUNT = 50;
