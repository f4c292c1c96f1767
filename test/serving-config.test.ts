// MLGIT_DEPLOY_* settings: defaults, accepted values, and a clear error naming the variable for
// each bad one (the server refuses to start).
import t from 'tap';
import { ConfigError, loadConfig } from '../server/config.ts';

t.test('deployment settings', async (t) => {
  t.same(loadConfig({}).deploy, { idleStopMs: null, maxBodyBytes: 10 * 1024 * 1024, maxResponseBytes: 64 * 1024 * 1024, timeoutMs: 60_000, startTimeoutMs: 120_000, maxReplicas: 4, healthIntervalMs: 10_000, relayImage: 'localhost/mlgit-python:bookworm' });
  t.equal(loadConfig({ MLGIT_DEPLOY_RELAY_IMAGE: 'ghcr.io/acme/relay:1' }).deploy.relayImage, 'ghcr.io/acme/relay:1');
  t.equal(loadConfig({ MLGIT_DEPLOY_MAX_REPLICAS: '8' }).deploy.maxReplicas, 8);
  t.equal(loadConfig({ MLGIT_DEPLOY_IDLE_STOP: '15m' }).deploy.idleStopMs, 900_000);
  t.equal(loadConfig({ MLGIT_DEPLOY_IDLE_STOP: '1h30m' }).deploy.idleStopMs, 5_400_000);
  t.equal(loadConfig({ MLGIT_DEPLOY_IDLE_STOP: 'off' }).deploy.idleStopMs, null);
  t.equal(loadConfig({ MLGIT_DEPLOY_MAX_BODY_BYTES: '1024' }).deploy.maxBodyBytes, 1024);
  const bad: [Record<string, string>, RegExp][] = [
    [{ MLGIT_DEPLOY_IDLE_STOP: '15' }, /MLGIT_DEPLOY_IDLE_STOP must be a duration such as 15m, 1h or 90s \(or off\), got "15"/],
    [{ MLGIT_DEPLOY_IDLE_STOP: 'soon' }, /MLGIT_DEPLOY_IDLE_STOP must be a duration/],
    [{ MLGIT_DEPLOY_IDLE_STOP: '0s' }, /MLGIT_DEPLOY_IDLE_STOP must be a duration/],
    [{ MLGIT_DEPLOY_MAX_BODY_BYTES: '-1' }, /MLGIT_DEPLOY_MAX_BODY_BYTES must be a positive whole number, got "-1"/],
    [{ MLGIT_DEPLOY_MAX_RESPONSE_BYTES: '1.5' }, /MLGIT_DEPLOY_MAX_RESPONSE_BYTES must be a positive whole number/],
    [{ MLGIT_DEPLOY_TIMEOUT_MS: 'ten' }, /MLGIT_DEPLOY_TIMEOUT_MS must be a positive whole number, got "ten"/],
    [{ MLGIT_DEPLOY_START_TIMEOUT_MS: '0' }, /MLGIT_DEPLOY_START_TIMEOUT_MS must be a positive whole number/],
    [{ MLGIT_DEPLOY_MAX_REPLICAS: '0' }, /MLGIT_DEPLOY_MAX_REPLICAS must be a positive whole number, got "0"/],
    [{ MLGIT_DEPLOY_HEALTH_INTERVAL_MS: 'often' }, /MLGIT_DEPLOY_HEALTH_INTERVAL_MS must be a positive whole number, got "often"/],
    [{ MLGIT_DEPLOY_RELAY_IMAGE: 'bad image!' }, /MLGIT_DEPLOY_RELAY_IMAGE must be an image reference such as localhost\/mlgit-python:bookworm, got "bad image!"/],
  ];
  for (const [env, message] of bad) t.throws(() => loadConfig(env), { name: 'Error', message }, JSON.stringify(env));
  let thrown: unknown;
  try {
    loadConfig({ MLGIT_DEPLOY_TIMEOUT_MS: 'x' });
  } catch (error) {
    thrown = error;
  }
  t.ok(thrown instanceof ConfigError, 'a ConfigError: the server says it and stops');
});
