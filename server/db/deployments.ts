// SQL of deployments: what the owner asked for and the state the supervisor last reported. The
// table's type lives here (Db.withTables) rather than in tables.ts: nothing else reads it.
import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';
import type { Db } from './connect.ts';

export interface DeploymentsTable {
  id: Generated<number>;
  repo_id: number;
  model: string;
  alias: string;
  command: string | null;
  image: string;
  port: ColumnType<number | null, number | null | undefined, number | null>;
  health_path: string;
  replicas: ColumnType<number, number | undefined, number>;
  cpus: number;
  /** bigint: pg returns it as a string. */
  memory_bytes: ColumnType<string | number, number, number>;
  env: ColumnType<Record<string, string>, string, string>;
  public: ColumnType<boolean, boolean | undefined, boolean>;
  state: ColumnType<string, string | undefined, string>;
  version: ColumnType<number | null, number | null | undefined, number | null>;
  message: ColumnType<string | null, string | null | undefined, string | null>;
  restarts: ColumnType<number, number | undefined, number>;
  created_by: number | null;
  /** The `deployments:` entry of the default branch's mlproject.yaml that owns it; null: made through the API. */
  manifest_entry: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: ColumnType<Date, never, never>;
  updated_at: ColumnType<Date, never, Date>;
}

export type DeploymentRow = Selectable<DeploymentsTable>;
export type NewDeployment = Omit<Insertable<DeploymentsTable>, 'id' | 'state' | 'version' | 'message' | 'restarts'>;

const table = (db: Db) => db.withTables<{ deployments: DeploymentsTable }>();

/** Inserts a deployment; undefined when the model has one already (the unique constraint). */
export async function insertDeployment(db: Db, row: NewDeployment): Promise<DeploymentRow | undefined> {
  return table(db).insertInto('deployments').values(row).onConflict((c) => c.constraint('deployments_model').doNothing()).returningAll().executeTakeFirst();
}

export function deploymentsOfRepo(db: Db, repoId: number): Promise<DeploymentRow[]> {
  return table(db).selectFrom('deployments').selectAll().where('repo_id', '=', repoId).orderBy('model').execute();
}

export function findDeployment(db: Db, repoId: number, model: string): Promise<DeploymentRow | undefined> {
  return table(db).selectFrom('deployments').selectAll().where('repo_id', '=', repoId).where('model', '=', model).executeTakeFirst();
}

export function allDeployments(db: Db): Promise<DeploymentRow[]> {
  return table(db).selectFrom('deployments').selectAll().orderBy('id').execute();
}

export async function deleteDeployment(db: Db, id: number): Promise<boolean> {
  const result = await table(db).deleteFrom('deployments').where('id', '=', id).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** What the owner may change of a deployment (the manifest, on a push to the default branch). */
export type DeploymentSpecColumns = Pick<NewDeployment, 'alias' | 'command' | 'image' | 'port' | 'health_path' | 'replicas' | 'cpus' | 'memory_bytes' | 'env' | 'public' | 'manifest_entry'>;

export async function updateDeploymentSpec(db: Db, id: number, spec: DeploymentSpecColumns): Promise<DeploymentRow | undefined> {
  return table(db).updateTable('deployments').set({ ...spec, updated_at: new Date() }).where('id', '=', id).returningAll().executeTakeFirst();
}

/** Records what the supervisor reports; a row deleted meanwhile stays deleted. */
export async function recordState(db: Db, id: number, state: { state: string; version: number | null; message: string | null; restarts: number }): Promise<void> {
  await table(db).updateTable('deployments').set({ ...state, updated_at: new Date() }).where('id', '=', id).execute();
}
