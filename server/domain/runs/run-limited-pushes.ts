import type { ManifestVerdict } from '../manifest-gate.ts';
import type { RefUpdate, Repo } from '../model.ts';
import type { QuarantineEnv } from '../ports.ts';
import { PushService, type HookVerdict } from '../pushes.ts';

/** checkPushedRunLimits bound to its git backend and admission (server/app.ts). */
export type PushRunLimits = (repo: Repo, updates: readonly RefUpdate[], quarantine: QuarantineEnv) => Promise<ManifestVerdict>;

/**
 * The push gate with the run limits: pre-receive also refuses a push that would start more runs
 * than the queue limits allow. The check runs beside PushService's own, which it leaves as is.
 */
export class RunLimitedPushService extends PushService {
  private readonly runLimits: PushRunLimits;

  constructor(runLimits: PushRunLimits, ...rest: ConstructorParameters<typeof PushService>) {
    super(...rest);
    this.runLimits = runLimits;
  }

  override async preReceive(...args: Parameters<PushService['preReceive']>): Promise<HookVerdict> {
    const [repo, , updates, quarantine] = args;
    const [verdict, limits] = await Promise.all([super.preReceive(...args), this.runLimits(repo, updates, quarantine)]);
    return { ok: verdict.ok && limits.ok, messages: [...verdict.messages, ...limits.messages] };
  }
}
