import { trace } from '@opentelemetry/api';
import type { FastifyServerOptions } from 'fastify';

/** pino JSON logs; credentials never reach them. */
export function loggerOptions(level: string): FastifyServerOptions['logger'] {
  return {
    level,
    mixin: traceIds,
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', 'req.headers["lfs-authenticate"]', '*.password', '*.token', '*.secret'],
      censor: '[redacted]',
    },
  };
}

/**
 * With MLGIT_TRACING on, every line written inside a span names its trace and span, so a log
 * line leads to the trace (whose spans carry the run id and repository) and back.
 */
export function traceIds(): { trace_id?: string; span_id?: string } {
  const span = trace.getActiveSpan();
  if (!span?.isRecording()) return {};
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}
