import { z } from 'zod';
import { ClosedError } from '../errors.js';
import { parseUrlOptions } from '../url-options.js';
import type { Delivery, PublishRequest, Transport, TransportConsumer, TransportFactory } from '../spi.js';
import type { Capabilities } from '../types.js';
import type { MemoryFaults } from './faults.js';
import { memoryBroker, type Holder, type Lease, type MemoryBroker, type PushConsumer } from './broker.js';

const optionsShape = {
  /** Largest message accepted, body + headers. */
  maxPayloadBytes: z.coerce
    .number()
    .int()
    .positive()
    .max(512 * 1024 * 1024)
    .default(1024 * 1024),
  /**
   * Simulate a lease-based broker (SQS, Pub/Sub, JetStream): an unsettled delivery comes back to
   * the group after this many ms unless extended; core's lease keeper extends what it holds.
   * Unset: deliveries are held until settled (RabbitMQ-like).
   */
  ackDeadlineMs: z.coerce.number().int().min(50).max(3_600_000).optional(),
};

/** memory://[name][?maxPayloadBytes=N&ackDeadlineMs=N] — buses with the same name in one process share a broker. */
export const createMemoryTransport: TransportFactory = (url) => {
  const options = parseUrlOptions(url, optionsShape, 'memory');
  const name = url.hostname || 'default';
  return new MemoryTransport(memoryBroker(name), name, options.maxPayloadBytes, options.ackDeadlineMs);
};

class MemoryTransport implements Transport {
  readonly name = 'memory';
  readonly capabilities: Capabilities;
  private readonly pullHolder: Holder;
  private readonly consumers = new Set<MemoryConsumer>();
  private closed = false;

  constructor(
    private readonly broker: MemoryBroker,
    private readonly brokerName: string,
    maxPayloadBytes: number,
    private readonly leaseMs: number | undefined,
  ) {
    this.pullHolder = leaseMs === undefined ? { outstanding: new Set() } : { outstanding: new Set(), leaseMs };
    this.capabilities = {
      persistent: false,
      consumerGroups: true,
      fanOut: true,
      ordering: 'perKey',
      nack: true,
      redeliveryOnTimeout: leaseMs !== undefined,
      deliveryCount: true,
      deadLetter: 'emulated',
      requestReply: 'emulated',
      noResponders: true,
      delay: 'native',
      nativeDedup: false,
      batchPublish: false,
      maxPayloadBytes,
      maxHeaders: 64,
      // No broker limit of its own: core's portable limits apply (see limits.ts).
      maxHeaderValueBytes: 65_536,
      maxHeaderBytes: 65_536,
      ...(leaseMs === undefined ? {} : { leaseMs }),
    };
  }

  async connect(): Promise<void> {}

  async publish({ topic, message, delayMs }: PublishRequest): Promise<void> {
    this.assertOpen();
    this.broker.publish(topic, message, delayMs ?? 0);
  }

  async declareGroup(topic: string, group: string): Promise<void> {
    this.assertOpen();
    this.broker.queue(topic, group);
  }

  async consume(topic: string, group: string, options: { prefetch: number }, onDelivery: (d: Delivery) => void): Promise<TransportConsumer> {
    this.assertOpen();
    const queue = this.broker.queue(topic, group);
    const consumer: MemoryConsumer = {
      outstanding: new Set(),
      ...(this.leaseMs === undefined ? {} : { leaseMs: this.leaseMs }),
      prefetch: options.prefetch,
      stopped: false,
      deliver: (lease) => onDelivery(toDelivery(lease)),
      stop: async () => {
        consumer.stopped = true;
        queue.removeConsumer(consumer);
      },
      close: async () => {
        consumer.stopped = true;
        queue.removeConsumer(consumer);
        abandonAll(consumer);
        this.consumers.delete(consumer);
      },
    };
    this.consumers.add(consumer);
    queue.addConsumer(consumer);
    return consumer;
  }

  async deleteGroup(topic: string, group: string): Promise<void> {
    this.assertOpen();
    this.broker.deleteGroup(topic, group);
  }

  async pull(topic: string, group: string, options: { max: number; waitMs: number; signal?: AbortSignal }): Promise<Delivery[]> {
    this.assertOpen();
    const queue = this.broker.queue(topic, group);
    const deadline = Date.now() + options.waitMs;
    for (;;) {
      const leases = queue.take(this.pullHolder, options.max);
      if (leases.length > 0) return leases.map(toDelivery);
      const remaining = deadline - Date.now();
      if (remaining <= 0 || options.signal?.aborted || this.closed) return [];
      await queue.waitForMessages(options.signal, remaining);
    }
  }

  async hasResponders(topic: string): Promise<boolean> {
    this.assertOpen();
    return this.broker.hasGroups(topic);
  }

  async health(): Promise<{ ok: boolean; details: Record<string, unknown> }> {
    return { ok: !this.closed, details: { broker: this.brokerName, ...this.broker.stats() } };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const consumer of [...this.consumers]) await consumer.close();
    abandonAll(this.pullHolder);
  }

  private assertOpen(): void {
    if (this.closed) throw new ClosedError('memory transport');
  }
}

interface MemoryConsumer extends PushConsumer, TransportConsumer {}

function abandonAll(holder: Holder): void {
  for (const lease of [...holder.outstanding]) lease.queue.requeue(lease, 0);
}

function toDelivery(lease: Lease): Delivery {
  return {
    message: lease.entry.wire,
    deliveryCount: lease.entry.deliveryCount,
    brokerId: String(lease.entry.seq),
    ack: async () => lease.queue.ack(lease),
    nack: async ({ delayMs }) => lease.queue.requeue(lease, delayMs),
    abandon: async () => lease.queue.requeue(lease, 0),
    extend: async (ms) => lease.queue.extend(lease, ms),
  };
}

/**
 * Inject faults into the memory broker named `name` (memory://name; default "default") for your
 * own tests: duplicates, lost acks, delays, an outage. See MemoryFaults.
 */
export function memoryFaults(name = 'default'): MemoryFaults {
  return memoryBroker(name).faults;
}
