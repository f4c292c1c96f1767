import { buildApp } from './app.ts';
import type { Config } from './config.ts';

/** Listens, prints the first admin's generated password once, and shuts down cleanly on signals. */
export async function serve(config: Config): Promise<void> {
  const { app, firstAdmin } = await buildApp(config);
  await app.listen({ port: config.port, host: config.host });
  if (firstAdmin?.generatedPassword) {
    // Printed once, on stdout only (never logged): the only time this password is shown.
    process.stdout.write(`\nmlgit: created user "admin" with password: ${firstAdmin.generatedPassword}\n(set MLGIT_ADMIN_PASSWORD to choose it; this is shown only once)\n\n`);
  }
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down');
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        app.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}
