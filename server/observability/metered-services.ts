// Decorators that report to the meter what the services already know: webhook delivery results
// and finished runs. Wrapping keeps the metric calls out of the domain code.
import { durationMs, type RunEvents } from '../domain/runs/model.ts';
import type { WebhookSender } from '../domain/webhook-delivery.ts';
import { meter } from './meter.ts';

export function meteredWebhookSender(sender: WebhookSender): WebhookSender {
  return {
    vet: (url) => sender.vet(url),
    async send(request) {
      const outcome = await sender.send(request);
      if (outcome.kind === 'error') meter().webhookDelivery(outcome.retryable ? 'failed' : 'refused');
      else meter().webhookDelivery(outcome.status >= 200 && outcome.status < 300 ? 'delivered' : 'http_error');
      return outcome;
    },
  };
}

export function meteredRunEvents(events: RunEvents): RunEvents {
  return {
    queued: (run) => events.queued(run),
    started: (run) => events.started(run),
    completed(run, metrics) {
      const ms = durationMs(run);
      meter().runFinished(run.job, run.status, ms === null ? null : ms / 1000);
      events.completed(run, metrics);
    },
    regression: (run, comparison) => events.regression(run, comparison),
  };
}
