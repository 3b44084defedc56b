import { z } from 'zod';
import { ClosedError } from '../errors.js';
import { parseUrlOptions } from '../url-options.js';
import { groupPolicyConflict } from '../group-policy.js';
import { MAX_DELAY_MS } from '../publish-checks.js';
import type { ConsumeOptions, Delivery, GroupPolicy, PublishRequest, Transport, TransportConsumer, TransportFactory, WireMessage } from '../spi.js';
import type { Capabilities } from '../types.js';
import type { MemoryFaults } from './faults.js';
import { type GroupQueue, memoryBroker, type Holder, type Lease, type MemoryBroker, type PushConsumer } from './broker.js';

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
  /*
   * Play another broker's capabilities, so an app (and core's own tests) can run against what
   * core does in their gaps: how nacks come back, how far delays go, whether deliveries are counted.
   */
  /** 'delayed' (default), 'immediate' (nack ignores its delay: core waits it out) or 'none' (core retries in place). */
  nack: z.enum(['none', 'immediate', 'delayed']).default('delayed'),
  /** With nack=delayed: the longest nack delay (ms); core waits out the rest itself. */
  maxNackDelayMs: z.coerce.number().int().min(1).max(MAX_DELAY_MS).default(MAX_DELAY_MS),
  /** 'native' (default) or 'emulated' (core stamps ce-notbefore and holds or republishes). */
  delay: z.enum(['native', 'emulated']).default('native'),
  /** With delay=native: the longest publish delay (ms); core covers longer ones. */
  maxDelayMs: z.coerce.number().int().min(1).max(MAX_DELAY_MS).default(MAX_DELAY_MS),
  /** 'exact' (default), 'approximate' (reported count lags by one after a crash) or 'absent' (always 1: core counts). */
  deliveryCount: z.enum(['exact', 'approximate', 'absent']).default('exact'),
};

type MemoryOptions = z.infer<z.ZodObject<typeof optionsShape>>;

/** memory://[name][?option=value...] (options above) — buses with the same name in one process share a broker. */
export const createMemoryTransport: TransportFactory = (url) => {
  const options = parseUrlOptions(url, optionsShape, 'memory');
  const name = url.hostname || 'default';
  return new MemoryTransport(memoryBroker(name), name, options);
};

class MemoryTransport implements Transport {
  readonly name = 'memory';
  readonly capabilities: Capabilities;
  private readonly leaseMs: number | undefined;
  private readonly pullHolder: Holder;
  private readonly consumers = new Set<MemoryConsumer>();
  private closed = false;

  constructor(
    private readonly broker: MemoryBroker,
    private readonly brokerName: string,
    options: MemoryOptions,
  ) {
    const leaseMs = options.ackDeadlineMs;
    this.leaseMs = leaseMs;
    this.pullHolder = leaseMs === undefined ? { outstanding: new Set() } : { outstanding: new Set(), leaseMs };
    this.capabilities = {
      persistent: false,
      consumerGroups: true,
      fanOut: true,
      ordering: 'perKey',
      nack: options.nack,
      maxNackDelayMs: options.nack === 'delayed' ? options.maxNackDelayMs : 0,
      redeliveryOnTimeout: leaseMs !== undefined,
      deliveryCount: options.deliveryCount,
      deadLetter: 'emulated',
      requestReply: 'emulated',
      noResponders: true,
      delay: options.delay,
      maxNativeDelayMs: options.delay === 'native' ? options.maxDelayMs : 0,
      nativeDedup: false,
      batchPublish: false,
      maxPayloadBytes: options.maxPayloadBytes,
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
    const { delay, maxNativeDelayMs } = this.capabilities;
    if (delayMs !== undefined && delayMs > (delay === 'native' ? maxNativeDelayMs : 0)) {
      throw new Error(`memory transport: a publish delay of ${delayMs} ms exceeds what its capabilities declare (core must not ask for it).`);
    }
    this.broker.publish(topic, message, delayMs ?? 0);
  }

  async declareGroup(topic: string, group: string, policy?: GroupPolicy): Promise<void> {
    this.assertOpen();
    const queue = this.broker.queue(topic, group);
    if (policy) adoptPolicy(queue, policy);
  }

  async consume(topic: string, group: string, options: ConsumeOptions, onDelivery: (d: Delivery) => void): Promise<TransportConsumer> {
    this.assertOpen();
    const queue = this.broker.queue(topic, group);
    adoptPolicy(queue, options.policy);
    const consumer: MemoryConsumer = {
      outstanding: new Set(),
      ...(this.leaseMs === undefined ? {} : { leaseMs: this.leaseMs }),
      prefetch: options.prefetch,
      stopped: false,
      deliver: (lease) => onDelivery(this.toDelivery(lease)),
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
      if (leases.length > 0) return leases.map((lease) => this.toDelivery(lease));
      const remaining = deadline - Date.now();
      if (remaining <= 0 || options.signal?.aborted || this.closed) return [];
      await queue.waitForMessages(options.signal, remaining);
    }
  }

  async exists(topic: string, group?: string): Promise<boolean> {
    this.assertOpen();
    return this.broker.exists(topic, group);
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

  /** A lease as a Delivery, as the declared capabilities say (nack modes, delivery counts). */
  private toDelivery(lease: Lease): Delivery {
    return new MemoryDelivery(lease, this.capabilities);
  }
}

/**
 * One handed-over message. A class, not an object of closures: one is made per delivery, and
 * four closures each showed up in the memory:// profile (npm run bench).
 */
class MemoryDelivery implements Delivery {
  readonly message: WireMessage;
  readonly deliveryCount: number;
  readonly brokerId: string;

  constructor(
    private readonly lease: Lease,
    private readonly caps: Capabilities,
  ) {
    const count = lease.entry.deliveryCount;
    this.message = lease.entry.wire;
    this.deliveryCount = caps.deliveryCount === 'exact' ? count : caps.deliveryCount === 'absent' ? 1 : Math.max(1, count - 1);
    this.brokerId = String(lease.entry.seq);
  }

  async ack(): Promise<void> {
    this.lease.queue.ack(this.lease);
  }

  async nack({ delayMs }: { delayMs: number }): Promise<void> {
    const { nack, maxNackDelayMs } = this.caps;
    if (nack === 'none' || delayMs > (nack === 'delayed' ? maxNackDelayMs : 0)) {
      throw new Error(`memory transport: nack({ delayMs: ${delayMs} }) exceeds what its capabilities declare (core must not ask for it).`);
    }
    this.lease.queue.requeue(this.lease, delayMs);
  }

  async abandon(): Promise<void> {
    this.lease.queue.requeue(this.lease, 0);
  }

  async extend(ms: number): Promise<boolean> {
    return this.lease.queue.extend(this.lease, ms);
  }
}

/** The broker keeps a group's policy while it has consumers; a different one meanwhile is refused, as brokers that store it do. */
function adoptPolicy(queue: GroupQueue, policy: GroupPolicy): void {
  const conflict = queue.policy && queue.hasConsumers ? groupPolicyConflict(queue.topic, queue.group, queue.policy, policy) : undefined;
  if (conflict) throw conflict;
  queue.policy = policy;
}

interface MemoryConsumer extends PushConsumer, TransportConsumer {}

function abandonAll(holder: Holder): void {
  for (const lease of [...holder.outstanding]) lease.queue.requeue(lease, 0);
}

/**
 * Inject faults into the memory broker named `name` (memory://name; default "default") for your
 * own tests: duplicates, lost acks, delays, an outage. See MemoryFaults.
 */
export function memoryFaults(name = 'default'): MemoryFaults {
  return memoryBroker(name).faults;
}
