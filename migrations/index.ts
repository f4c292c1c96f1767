import type { Migration } from 'kysely';
import * as accountsAndRepos from './20261125T1100_accounts_and_repos.ts';
import * as lfs from './20261125T1300_lfs.ts';
import * as runs from './20261125T1500_runs.ts';
import * as webhooksStatusesAudit from './20261125T1600_webhooks_statuses_audit.ts';
import * as credentialVersion from './20261126T0900_credential_version.ts';
import * as pushOutbox from './20261203T0900_push_outbox.ts';
import * as modelRegistry from './20261206T1600_model_registry.ts';
import * as modelInspection from './20261206T1700_model_inspection.ts';
import * as repoDownloads from './20261206T1800_repo_downloads.ts';
import * as runLogChunks from './20261206T2000_run_log_chunks.ts';
import * as deployments from './20261206T2100_deployments.ts';
import * as manifestDeployments from './20261206T2300_manifest_deployments.ts';
import * as deploymentPorts from './20261207T0200_deployment_ports.ts';

/** Time-ordered; the key is the name recorded in the database. */
export const migrations: Record<string, Migration> = {
  '20261125T1100_accounts_and_repos': accountsAndRepos,
  '20261125T1300_lfs': lfs,
  '20261125T1500_runs': runs,
  '20261125T1600_webhooks_statuses_audit': webhooksStatusesAudit,
  '20261126T0900_credential_version': credentialVersion,
  '20261203T0900_push_outbox': pushOutbox,
  '20261206T1600_model_registry': modelRegistry,
  '20261206T1700_model_inspection': modelInspection,
  '20261206T1800_repo_downloads': repoDownloads,
  '20261206T2000_run_log_chunks': runLogChunks,
  '20261206T2100_deployments': deployments,
  '20261206T2300_manifest_deployments': manifestDeployments,
  '20261207T0200_deployment_ports': deploymentPorts,
};
