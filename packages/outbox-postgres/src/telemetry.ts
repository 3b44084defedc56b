/**
 * Relay metrics through @opentelemetry/api only (a no-op until the app installs an SDK).
 * Instruments are made when a relay starts, not at import, so an SDK registered after this
 * module loaded is still used.
 */
import { metrics, type BatchObservableCallback, type Counter, type Meter, type ObservableGauge } from '@opentelemetry/api';

const SCOPE = '@switchyard/outbox-postgres';

export interface TableSnapshot {
  readonly pending: number;
  readonly parked: number;
  readonly oldestPendingAgeMs: number;
}

export class RelayTelemetry {
  private readonly meter: Meter;
  private readonly published: Counter;
  private readonly failures: Counter;
  private readonly parkedCounter: Counter;
  private readonly gauges: ObservableGauge[];
  private readonly callback: BatchObservableCallback;
  private readonly attributes: Record<string, string>;

  /** `observe` returns the table's state, or undefined when this relay should not report (not the leader). */
  constructor(table: string, observe: () => Promise<TableSnapshot | undefined>) {
    this.meter = metrics.getMeter(SCOPE);
    this.attributes = { 'switchyard.outbox.table': table };
    this.published = this.meter.createCounter('switchyard.outbox.published', { description: 'Outbox rows published and confirmed by the broker' });
    this.failures = this.meter.createCounter('switchyard.outbox.publish_failures', { description: 'Failed publishes of outbox rows (reason: row, permanent, outage)' });
    this.parkedCounter = this.meter.createCounter('switchyard.outbox.parked_rows', { description: 'Outbox rows parked after failing' });
    const lag = this.meter.createObservableGauge('switchyard.outbox.lag', { unit: 's', description: 'Age of the oldest pending outbox row (0 when none waits)' });
    const pending = this.meter.createObservableGauge('switchyard.outbox.pending', { description: 'Outbox rows waiting to be published' });
    const parked = this.meter.createObservableGauge('switchyard.outbox.parked', { description: 'Parked outbox rows (status parked)' });
    this.gauges = [lag, pending, parked];
    // Only the leader observes, so a fleet of relays reports one series per table.
    this.callback = async (result) => {
      const snapshot = await observe();
      if (snapshot === undefined) return;
      result.observe(lag, snapshot.oldestPendingAgeMs / 1000, this.attributes);
      result.observe(pending, snapshot.pending, this.attributes);
      result.observe(parked, snapshot.parked, this.attributes);
    };
    this.meter.addBatchObservableCallback(this.callback, this.gauges);
  }

  countPublished(topic: string): void {
    this.published.add(1, { ...this.attributes, 'messaging.destination.name': topic });
  }

  countFailure(topic: string, reason: 'row' | 'permanent' | 'outage'): void {
    this.failures.add(1, { ...this.attributes, 'messaging.destination.name': topic, reason });
  }

  countParked(topic: string): void {
    this.parkedCounter.add(1, { ...this.attributes, 'messaging.destination.name': topic });
  }

  close(): void {
    this.meter.removeBatchObservableCallback(this.callback, this.gauges);
  }
}
