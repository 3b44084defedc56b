/**
 * A real OpenTelemetry SDK for the telemetry cases, registered once per process (cases run in
 * parallel in one process and the OTel globals are process-wide). It records only spans whose
 * destination a telemetry case watches, decided by the sampler at span start, so the other cases
 * running alongside pay for no recording.
 */
import { context, metrics, propagation, trace, type Attributes, type Context, type Link, type SpanKind } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, SamplingDecision, type ReadableSpan, type Sampler, type SamplingResult, type SpanProcessor } from '@opentelemetry/sdk-trace-base';

const DESTINATION = 'messaging.destination.name';

class Recorder implements SpanProcessor, Sampler {
  /** Topic prefixes a running case watches (a case's topic also covers its `.dlq`). */
  readonly watched = new Set<string>();
  readonly spans: ReadableSpan[] = [];
  private waiters: { test: () => boolean; resolve: () => void }[] = [];

  isWatched(attributes: Attributes): boolean {
    const destination = attributes[DESTINATION];
    if (typeof destination !== 'string') return false;
    for (const prefix of this.watched) if (destination.startsWith(prefix)) return true;
    return false;
  }

  shouldSample(_context: Context, _traceId: string, _name: string, _kind: SpanKind, attributes: Attributes, _links: Link[]): SamplingResult {
    return { decision: this.isWatched(attributes) ? SamplingDecision.RECORD_AND_SAMPLED : SamplingDecision.NOT_RECORD };
  }

  toString(): string {
    return 'ConformanceRecorder';
  }

  onStart(): void {}

  onEnd(span: ReadableSpan): void {
    if (!this.isWatched(span.attributes)) return;
    this.spans.push(span);
    this.waiters = this.waiters.filter((w) => {
      if (!w.test()) return true;
      w.resolve();
      return false;
    });
  }

  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}

  /** Resolve once `test` holds for the recorded spans; reject after timeoutMs saying what was there. */
  waitUntil(test: () => boolean, what: string, timeoutMs: number): Promise<void> {
    if (test()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.test !== test);
        reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what}.`));
      }, timeoutMs);
      this.waiters.push({
        test,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }
}

export interface TelemetrySdk {
  /** Record spans and metrics for destinations starting with `topic` while the case runs. */
  watch(topic: string): TelemetryWatch;
}

export interface TelemetryWatch {
  spans(): ReadableSpan[];
  /** The spans named `name` once `count` of them ended. */
  waitForSpans(name: string, count?: number, timeoutMs?: number): Promise<ReadableSpan[]>;
  /** Data points of metric `name` for this case's destinations. */
  metric(name: string): Promise<{ unit: string; points: { value: unknown; attributes: Attributes }[] }>;
  stop(): void;
}

let sdk: TelemetrySdk | undefined;

/** The process's SDK for the suite; throws if the app registered its own first (the cases need theirs). */
export function telemetrySdk(): TelemetrySdk {
  sdk ??= register();
  return sdk;
}

function register(): TelemetrySdk {
  const recorder = new Recorder();
  const reader = new PeriodicExportingMetricReader({ exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE), exportIntervalMillis: 3_600_000 });
  const ok = [
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable()),
    propagation.setGlobalPropagator(new W3CTraceContextPropagator()),
    trace.setGlobalTracerProvider(new BasicTracerProvider({ sampler: recorder, spanProcessors: [recorder] })),
    metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] })),
  ];
  if (ok.includes(false)) {
    throw new Error('The telemetry cases register their own OpenTelemetry SDK, but this process already has one. Run the suite in a process without an SDK.');
  }
  return {
    watch(topic) {
      recorder.watched.add(topic);
      const mine = () => recorder.spans.filter((s) => String(s.attributes[DESTINATION]).startsWith(topic));
      return {
        spans: mine,
        waitForSpans: async (name, count = 1, timeoutMs = 20_000) => {
          const named = () => mine().filter((s) => s.name === name);
          await recorder.waitUntil(
            () => named().length >= count,
            `${count} span(s) "${name}" (have: ${
              mine()
                .map((s) => s.name)
                .join(', ') || 'none'
            })`,
            timeoutMs,
          );
          return named();
        },
        metric: async (name) => {
          const { resourceMetrics } = await reader.collect();
          const all: MetricData[] = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
          const found = all.find((m) => m.descriptor.name === name);
          const points = (found?.dataPoints ?? []).filter((p) => String(p.attributes[DESTINATION]).startsWith(topic));
          return { unit: found?.descriptor.unit ?? '', points: points.map((p) => ({ value: p.value, attributes: p.attributes })) };
        },
        stop: () => recorder.watched.delete(topic),
      };
    },
  };
}
