// mlproject.yaml v1 (../shared/design/mlproject.md): the public entry of the manifest contract.
// The parser, the schema and the pure helpers the server and the runner share live in
// ./manifest/, one job per file; import them from here.
// schema/ imports nothing from the project (architecture.md, "Rules of the house").
export type {
  Dataset,
  DeploymentEntry,
  Job,
  JobMetrics,
  JobOutput,
  Manifest,
  ManifestIssue,
  ModelFormat,
  ModelSpec,
  ParamSpec,
  ParseOptions,
  ParseResult,
  Promotion,
  Resources,
  Scalar,
  Threshold,
} from './manifest/types.ts';
export { DEFAULT_FILE, DEFAULT_MAX_BYTES, DEFAULT_MAX_MATRIX_EXPANSIONS, MAX_ALIAS_COUNT } from './manifest/types.ts';
export { mlprojectSchema, schemaPath } from './manifest/json-schema.ts';
export { COMMAND_OR_PORT, RESERVED_DEPLOYMENT_ENV } from './manifest/deployments.ts';
export { fileIssue, parseManifest, tooLargeIssue } from './manifest/parse.ts';
export { formatIssue, formatPath } from './manifest/issues.ts';
export { didYouMean, levenshtein } from './manifest/suggestions.ts';
export { expandMatrix, matrixSize, type MatrixExpansion } from './manifest/matrix.ts';
export { durationSeconds, quantityBytes } from './manifest/units.ts';
export { literalPrefix, pathProblem } from './manifest/paths.ts';
export { interpolate, OUTPUT_DIR_VARIABLE, scanShellTemplates, shellQuote, TemplateError, type ShellContext, type ShellTemplate } from './manifest/shell-interpolation.ts';
export { matchesAnyGlob, matchesGlob, pathMatchesGlob } from './manifest/globs.ts';
export { looseTriggers, pathsMatch, refMatchesTriggers, type TriggerMatch, type Triggers } from './manifest/triggers.ts';
export { parsePushOptions, type PushOptions } from './manifest/push-options.ts';
