// `mlgit model register <owner>/<repo> <model> --run <id> [--as <user>]`: the registry's manual
// registration from the server's shell, with the operator's authority (it acts as the repository
// owner, or `--as` a user who must have write access).
import { parseArgs } from 'node:util';
import type { App } from './app.ts';
import { DomainError } from './domain/errors.ts';
import { type Principal, SCOPES } from './domain/model.ts';

const USAGE = 'usage: mlgit model register <owner>/<repo> <model> --run <id> [--as <user>]';

export async function modelRegister(app: App, args: string[], out: (line: string) => void): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { run: { type: 'string' }, as: { type: 'string' } } });
  const [repoPath, model, extra] = positionals;
  const [owner, name, rest] = (repoPath ?? '').split('/');
  if (!owner || !name || rest !== undefined || !model || extra !== undefined || values.run === undefined) throw new DomainError('invalid', USAGE);
  if (!/^[1-9][0-9]{0,9}$/.test(values.run)) throw new DomainError('invalid', '--run must be a run id (a positive whole number)');
  const principal: Principal = { user: await app.services.accounts.findUser(values.as ?? owner), scopes: new Set(SCOPES), via: 'password' };
  const { repo } = await app.services.repos.authorize(principal, owner, name, 'write');
  const { version, created } = await app.services.registry.versions.registerManual(repo, model, Number(values.run), principal.user.id);
  if (created) await app.services.runs.notes.refresh(repo.id, version.commitSha);
  out(`${created ? 'registered' : 'already registered as'} ${model} v${version.version} (run ${values.run}, commit ${version.commitSha.slice(0, 7)}, sha256 ${version.oid})`);
  return 0;
}
