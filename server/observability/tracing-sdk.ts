// The OpenTelemetry SDK, loaded only when MLGIT_TRACING=otlp (server/app.ts and `mlgit runner`
// import this lazily): a Node tracer provider (AsyncLocalStorage context, W3C trace context
// propagation) exporting with the standard OTLP/HTTP exporter, which reads the standard
// OTEL_EXPORTER_OTLP_* variables (endpoint, headers, timeout).
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

let provider: NodeTracerProvider | null = null;

/**
 * Registers the process-wide tracer provider once. `exporter` replaces OTLP (tests pass an
 * in-memory one; its spans are exported as each ends, instead of in batches).
 */
export function startTracing(serviceName: string, exporter?: SpanExporter): void {
  if (provider) return;
  provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName }),
    spanProcessors: [exporter ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  provider.register();
}

/** Sends what is still batched (at shutdown). */
export async function flushTracing(): Promise<void> {
  await provider?.forceFlush();
}
