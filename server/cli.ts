import { parseArgs } from 'node:util';
import type { App } from './app.ts';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { DomainError } from './domain/errors.ts';
import { type Principal, SCOPES } from './domain/model.ts';

// The server's modules (Fastify, the AWS SDK, BullMQ, PGlite) load only for commands that use
// them: usage and configuration errors answer at once.

const USAGE = `usage: mlgit <command>

  serve                                      start the server (embedded defaults unless DATABASE_URL etc. are set)
  runner                                     run jobs from the queue (needs REDIS_URL, MLGIT_SERVER_URL, MLGIT_RUNNER_TOKEN)
  migrate                                    apply database migrations
  user create <name> [--admin] [--password P] [--email E]
  token create <user> [--scopes read,write] [--name N] [--hf]   (--hf: as hf_<token>, for Hugging Face clients)
  repo create <owner>/<name> [--private] [--kind model|dataset] [--description D]
  lfs gc [--dry-run]                         delete LFS objects that no repository references any more
  model register <owner>/<repo> <model> --run <id> [--as <user>]   register a model version from a successful run
  doctor                                     check git, data dir, database and hooks; repair missing hooks
  validate [path]                            check an mlproject.yaml (default ./mlproject.yaml) as a push would; exit 1 on errors

Configuration comes from the environment (see .env.example). With the embedded database,
run admin commands while the server is stopped (PGlite allows one process), or use the REST API.`;

export async function main(argv: string[]): Promise<number> {
  // A local check that needs no configuration, database or server.
  if (argv[0] === 'validate') {
    const { validateCommand } = await import('./validate-manifest.ts');
    return validateCommand(argv.slice(1), { out: (text) => process.stdout.write(text), err: (text) => process.stderr.write(text) });
  }
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`mlgit: configuration error: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const [command, sub, ...rest] = argv;
  try {
    switch (command) {
      case 'serve':
        await (await import('./main.ts')).serve(config);
        return 0;
      case 'runner':
        return await (await import('./runner-main.ts')).runRunner(config, (line) => process.stderr.write(`mlgit: ${line}\n`));
      case 'migrate':
        return await migrate(config);
      case 'user':
        if (sub === 'create') return await withApp(config, (app) => createUser(app, rest));
        break;
      case 'token':
        if (sub === 'create') return await withApp(config, (app) => createToken(app, rest));
        break;
      case 'repo':
        if (sub === 'create') return await withApp(config, (app) => createRepo(app, rest));
        break;
      case 'lfs':
        if (sub === 'gc') return await withApp(config, (app) => lfsGc(app, rest));
        break;
      case 'model':
        if (sub === 'register') return await withApp(config, async (app) => (await import('./cli-model.ts')).modelRegister(app, rest, (line) => process.stdout.write(`${line}\n`)));
        break;
      case 'doctor':
        return await withApp(config, async (app) => (await import('./doctor.ts')).runDoctor(app.services, config, (line) => process.stdout.write(`${line}\n`)));
    }
  } catch (err) {
    if (err instanceof DomainError || (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      process.stderr.write(`mlgit: ${(err as Error).message}\n`);
      return 1;
    }
    throw err;
  }
  process.stderr.write(`${USAGE}\n`);
  return command === undefined || command === 'help' || command === '--help' ? 0 : 2;
}

async function migrate(config: Config): Promise<number> {
  const { connectDatabase } = await import('./db/connect.ts');
  const { migrateToLatest } = await import('./db/migrate.ts');
  const db = await connectDatabase(config.databaseUrl, config.dataDir);
  try {
    const lines = await migrateToLatest(db);
    process.stdout.write(lines.length ? `${lines.join('\n')}\n` : 'database is up to date\n');
    return 0;
  } finally {
    await db.destroy();
  }
}

async function withApp(config: Config, run: (app: App) => Promise<number>): Promise<number> {
  const { buildApp } = await import('./app.ts');
  const built = await buildApp({ ...config, logLevel: 'warn' });
  try {
    if (built.firstAdmin?.generatedPassword) {
      process.stdout.write(`created user "admin" with password: ${built.firstAdmin.generatedPassword} (shown only once)\n`);
    }
    return await run(built);
  } finally {
    await built.app.close();
  }
}

/** The CLI runs on the server with the operator's authority: it acts as the named user with every scope. */
async function actAs(app: App, username: string): Promise<Principal> {
  return { user: await app.services.accounts.findUser(username), scopes: new Set(SCOPES), via: 'password' };
}

async function createUser(app: App, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { admin: { type: 'boolean' }, password: { type: 'string' }, email: { type: 'string' } } });
  const [username] = positionals;
  if (!username) throw new DomainError('invalid', 'usage: mlgit user create <name> [--admin] [--password P]');
  const generated = values.password === undefined;
  const password = values.password ?? (await import('./domain/secrets.ts')).randomSecret(18);
  const user = await app.services.accounts.createUser({ username, password, email: values.email, isAdmin: values.admin ?? false });
  process.stdout.write(`created user "${user.username}" (id ${user.id})${user.isAdmin ? ' as admin' : ''}\n`);
  if (generated) process.stdout.write(`password: ${password}\n`);
  return 0;
}

async function createToken(app: App, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { scopes: { type: 'string' }, name: { type: 'string' }, hf: { type: 'boolean' } } });
  const [username] = positionals;
  if (!username) throw new DomainError('invalid', 'usage: mlgit token create <user> [--scopes read,write] [--hf]');
  const { parseScopes } = await import('./domain/accounts.ts');
  const scopes = parseScopes((values.scopes ?? 'read,write').split(','));
  const created = await app.services.accounts.createToken(await actAs(app, username), values.name ?? 'cli', scopes);
  // --hf: the form Hugging Face clients accept (they refuse tokens that do not start with hf_).
  process.stdout.write(`${values.hf ? 'hf_' : ''}${created.token}\n`);
  return 0;
}

async function createRepo(app: App, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { private: { type: 'boolean' }, kind: { type: 'string' }, description: { type: 'string' } },
  });
  const [owner, name, extra] = (positionals[0] ?? '').split('/');
  if (!owner || !name || extra !== undefined) throw new DomainError('invalid', 'usage: mlgit repo create <owner>/<name> [--private]');
  const repo = await app.services.repos.create(await actAs(app, owner), { name, private: values.private ?? false, kind: values.kind, description: values.description });
  process.stdout.write(`created ${repo.owner}/${repo.name}${repo.private ? ' (private)' : ''}\n`);
  return 0;
}

async function lfsGc(app: App, args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { 'dry-run': { type: 'boolean' } } });
  const dryRun = values['dry-run'] ?? false;
  const removed = await app.services.lfs.collectGarbage(dryRun);
  for (const object of removed) process.stdout.write(`${dryRun ? 'would delete' : 'deleted'} ${object.oid} (${object.size} bytes)\n`);
  const bytes = removed.reduce((sum, o) => sum + o.size, 0);
  process.stdout.write(`${dryRun ? 'would free' : 'freed'} ${bytes} bytes in ${removed.length} object(s)\n`);
  return 0;
}
