import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { Context } from '@opentelemetry/api';
import type { ZodType } from 'zod';
import { Attr, decodeMessage, encodeMessage, ReplyAttr, wireSize } from './codec.js';
import { messageSchema, responseSchema, validateBody, type Contract, type EmptyContract, type PublishBody, type ReceiveBody, type ResponseBody } from './contract.js';
import { deadLetter } from './dead-letter.js';
import { ClosedError, ConnectionError, errorMessage, PayloadTooLargeError, SwitchyardError, ValidationError } from './errors.js';
import { consoleLogger } from './logger.js';
import { assertHeaders, assertTopicName, deadLetterTopicOf } from './names.js';
import { assertKnownOptions, intInRange } from './options.js';
import { createTransport, parseBusUrl, redactUrl } from './registry.js';
import { deserializeReply, errorReply, okReply, Requester, sendReply, serializeReply, type ReplyEnvelope } from './request-reply.js';
import { resolveRetryPolicy } from './retry.js';
import { SubscriptionRunner, type ResolvedIdempotency } from './runner.js';
import type { Delivery, Transport, WireMessage } from './spi.js';
import { runInContext, withPublishSpan } from './telemetry.js';
import type {
  Capabilities,
  CloseOptions,
  Handler,
  HandlerContext,
  Health,
  IdempotencyOptions,
  Logger,
  Message,
  PublishOptions,
  PublishResult,
  PulledMessage,
  PullOptions,
  ReplyHandler,
  ReplyOptions,
  RequestOptions,
  SubscribeOptions,
  Subscription,
} from './types.js';

export interface BusOptions<C extends Contract = EmptyContract> {
  /** Broker URL; the scheme picks the adapter. Default: SWITCHYARD_URL, else memory://. */
  url?: string | URL;
  /** Your service's name: the default consumer group, CloudEvents source and span attribute. */
  service: string;
  contract?: C;
  /** Default: warnings and errors to stderr. */
  logger?: Logger;
  /** Use this transport instead of resolving one from the URL (custom adapters, tests). */
  transport?: Transport;
}

const PUBLISH_OPTIONS = ['key', 'headers', 'id', 'correlationId', 'causationId', 'delayMs', 'contentType'] as const;
const SUBSCRIBE_OPTIONS = ['group', 'concurrency', 'retry', 'deadLetter', 'idempotency', 'schema'] as const;
const PULL_OPTIONS = ['group', 'max', 'waitMs', 'maxAttempts', 'deadLetter', 'schema'] as const;
const REPLY_OPTIONS = ['group', 'concurrency', 'schema', 'idempotency'] as const;
const REQUEST_OPTIONS = ['timeoutMs', 'signal', 'headers', 'key', 'id', 'correlationId'] as const;
const DAY_MS = 86_400_000;

/** What a message being handled passes on to what its handler sends. */
interface Inherited {
  readonly correlationId?: string;
  readonly causationId?: string;
  readonly otel?: Context;
}

type State = 'open' | 'closing' | 'closed';

export class Bus<C extends Contract = EmptyContract> {
  readonly service: string;
  private readonly id = randomUUID().slice(0, 8);
  private readonly requester: Requester;
  private readonly subscriptions = new Set<SubscriptionRunner>();
  private readonly operations = new Set<Promise<unknown>>();
  private state: State = 'open';
  private closing: Promise<void> | undefined;
  /** Aborts when close() starts: pending pulls return early instead of holding close up. */
  private readonly closeSignal = new AbortController();

  /** Use createBus(). */
  constructor(
    private readonly transport: Transport,
    service: string,
    private readonly contract: C | undefined,
    private readonly logger: Logger,
  ) {
    this.service = service;
    setMaxListeners(0, this.closeSignal.signal); // one listener per pending pull: bounded by the caller, not a leak
    this.requester = new Requester(transport, `${service}.${this.id}`, logger);
  }

  get capabilities(): Capabilities {
    return this.transport.capabilities;
  }

  /** Resolves once the broker confirmed the write. */
  publish<K extends string>(topic: K, body: PublishBody<C, K>, options: PublishOptions = {}): Promise<PublishResult> {
    return this.track(() => {
      this.assertState('open');
      return this.send(topic, body, options, {});
    });
  }

  async subscribe<K extends string>(topic: K, handler: Handler<ReceiveBody<C, K>>, options: SubscribeOptions<ReceiveBody<C, K>> = {}): Promise<Subscription> {
    assertKnownOptions(options, SUBSCRIBE_OPTIONS, 'subscribe');
    if (typeof handler !== 'function') throw new ValidationError(`subscribe("${topic}") needs a handler function as its second argument.`);
    return this.track(async () => {
      this.assertState('open');
      assertTopicName(topic);
      const group = this.groupOf(options.group);
      const deadLetterTopic = this.deadLetterOf(topic, options.deadLetter);
      const runner = new SubscriptionRunner({
        transport: this.transport,
        topic,
        group,
        policy: resolveRetryPolicy(options.retry),
        deadLetterTopic,
        schema: this.schemaFor(topic, options.schema),
        idempotency: resolveIdempotency(options.idempotency as IdempotencyOptions | undefined),
        logger: this.logger,
        handle: async (msg, ctx) => {
          await handler(msg as Message<ReceiveBody<C, K>>, ctx);
          return undefined;
        },
        makeContext: this.contextFactory(),
      });
      return this.start(runner, topic, group, deadLetterTopic, intInRange(options.concurrency, 1, 1, 10_000, 'concurrency'));
    });
  }

  /** Pull pattern: wait up to waitMs for messages, get up to max; ack or nack each. */
  async pull<K extends string>(topic: K, options: PullOptions<ReceiveBody<C, K>> = {}): Promise<PulledMessage<ReceiveBody<C, K>>[]> {
    assertKnownOptions(options, PULL_OPTIONS, 'pull');
    return this.track(async () => {
      this.assertState('open');
      assertTopicName(topic);
      const group = this.groupOf(options.group);
      const max = intInRange(options.max, 10, 1, 1000, 'max');
      const waitMs = intInRange(options.waitMs, 1000, 0, 300_000, 'waitMs');
      const maxAttempts = intInRange(options.maxAttempts, 5, 1, 1000, 'maxAttempts');
      const target = { transport: this.transport, topic, group, deadLetterTopic: this.deadLetterOf(topic, options.deadLetter) };
      if (target.deadLetterTopic !== false) await this.transport.declareGroup(target.deadLetterTopic, group);
      const schema = this.schemaFor(topic, options.schema);
      const deliveries = await this.transport.pull(topic, group, { max, waitMs, signal: this.closeSignal.signal });
      const out: PulledMessage<ReceiveBody<C, K>>[] = [];
      for (const delivery of deliveries) {
        const attempt = delivery.deliveryCount;
        try {
          const decoded = decodeMessage<ReceiveBody<C, K>>(delivery.message, topic, attempt, delivery.brokerId);
          const body = validateBody(schema, decoded.body, `Message ${decoded.id} on "${topic}"`) as ReceiveBody<C, K>;
          out.push(this.pulled({ ...decoded, body }, delivery, target, maxAttempts));
        } catch (err) {
          // Poison: never hand it to the app, never loop on it.
          await this.deadLetterOrKeep(target, delivery, err, attempt);
        }
      }
      return out;
    });
  }

  /** Answer requests on `topic`. What the handler returns is the reply; what it throws reaches the requester as RemoteHandlerError. */
  async reply<K extends string>(topic: K, handler: ReplyHandler<ReceiveBody<C, K>, ResponseBody<C, K>>, options: ReplyOptions<ReceiveBody<C, K>> = {}): Promise<Subscription> {
    assertKnownOptions(options, REPLY_OPTIONS, 'reply');
    if (typeof handler !== 'function') throw new ValidationError(`reply("${topic}") needs a handler function as its second argument.`);
    return this.track(async () => {
      this.assertState('open');
      assertTopicName(topic);
      const group = this.groupOf(options.group);
      const resSchema = responseSchema(this.contract, topic);
      const send = (request: WireMessage, reply: ReplyEnvelope) => sendReply(this.transport, request, this.service, reply);
      const idem = options.idempotency as IdempotencyOptions | undefined;
      const runner = new SubscriptionRunner({
        transport: this.transport,
        topic,
        group,
        // A requester is waiting: answer once, now. Retrying would send it a second reply.
        policy: resolveRetryPolicy(false),
        deadLetterTopic: false,
        schema: this.schemaFor(topic, options.schema),
        idempotency: resolveIdempotency(idem === undefined ? undefined : { ...idem, key: idem.key ?? ((m: Message) => m.id) }),
        logger: this.logger,
        handle: async (msg, ctx, wire) => {
          let reply: ReplyEnvelope;
          try {
            const result = await handler(msg as Message<ReceiveBody<C, K>>, ctx);
            reply = okReply(validateBody(resSchema, result, `Reply from "${topic}"`));
          } catch (err) {
            this.logger.warn('Reply handler failed; the requester gets RemoteHandlerError', { topic, id: msg.id, error: errorMessage(err) });
            reply = errorReply(err);
          }
          await send(wire, reply);
          return serializeReply(reply);
        },
        onDuplicate: async (_msg, result, wire) => {
          if (result !== undefined) await send(wire, deserializeReply(result));
        },
        onPoison: async (wire, error) => send(wire, errorReply(error)),
        makeContext: this.contextFactory(),
      });
      return this.start(runner, topic, group, false, intInRange(options.concurrency, 1, 1, 10_000, 'concurrency'));
    });
  }

  /** Send a request and wait for its reply (default timeout 5 s). */
  request<K extends string>(topic: K, body: PublishBody<C, K>, options: RequestOptions = {}): Promise<ResponseBody<C, K>> {
    try {
      this.assertState('open');
    } catch (err) {
      return Promise.reject(err);
    }
    return this.ask(topic, body, options, {}) as Promise<ResponseBody<C, K>>;
  }

  async health(): Promise<Health> {
    try {
      const { ok, details } = await this.transport.health();
      // busState, not state: the transport's own `state` (e.g. amqp 'reconnecting') must stay visible.
      return { ok: ok && this.state === 'open', transport: this.transport.name, details: { ...details, busState: this.state, subscriptions: this.subscriptions.size } };
    } catch (err) {
      return { ok: false, transport: this.transport.name, details: { error: errorMessage(err), busState: this.state } };
    }
  }

  /** Drain every subscription (in-flight handlers finish and settle), then disconnect. */
  close(options: CloseOptions = {}): Promise<void> {
    this.closing ??= this.shutdown(options);
    return this.closing;
  }

  private async shutdown(options: CloseOptions): Promise<void> {
    this.state = 'closing';
    this.closeSignal.abort();
    // Let subscribe()/publish() calls already under way finish, so nothing they started is left half-done.
    await Promise.allSettled([...this.operations]);
    await Promise.allSettled([...this.subscriptions].map((s) => s.close(options)));
    await this.requester.close();
    this.state = 'closed';
    await this.transport.close();
  }

  private async start(runner: SubscriptionRunner, topic: string, group: string, deadLetterTopic: string | false, concurrency: number): Promise<Subscription> {
    // Keep dead letters for this group even before anyone reads the DLQ.
    if (deadLetterTopic !== false) await this.transport.declareGroup(deadLetterTopic, group);
    const consumer = await this.transport.consume(topic, group, { prefetch: concurrency }, runner.onDelivery);
    runner.attach(consumer);
    this.subscriptions.add(runner);
    return {
      topic,
      group,
      close: async (options?: CloseOptions) => {
        await runner.close(options);
        this.subscriptions.delete(runner);
      },
    };
  }

  private async send(topic: string, body: unknown, options: PublishOptions, inherited: Inherited): Promise<PublishResult> {
    const { wire, id } = this.prepare(topic, body, options, inherited, {});
    await this.deliver(topic, wire, options.delayMs, inherited, id);
    return { id };
  }

  /** Validate and encode; throws before anything is sent. */
  private prepare(topic: string, body: unknown, options: PublishOptions, inherited: Inherited, extraHeaders: Record<string, string>) {
    assertKnownOptions(options, PUBLISH_OPTIONS, 'publish');
    assertTopicName(topic);
    if (options.headers !== undefined) assertHeaders(options.headers);
    if (options.key !== undefined && (typeof options.key !== 'string' || options.key.length === 0 || options.key.length > 1024)) {
      throw new ValidationError(`key must be a non-empty string of at most 1024 characters.`);
    }
    if (options.id !== undefined && (typeof options.id !== 'string' || options.id.length === 0 || options.id.length > 256 || /[\r\n\0]/.test(options.id))) {
      throw new ValidationError('id must be a non-empty single-line string of at most 256 characters.');
    }
    const delayMs = intInRange(options.delayMs, 0, 0, 15 * 60_000 * 4 * 24, 'delayMs');
    validateBody(messageSchema(this.contract, topic), body, `Body for "${topic}"`);
    const extra = { ...extraHeaders };
    if (delayMs > 0 && this.transport.capabilities.delay === 'emulated') extra[Attr.notBefore] = new Date(Date.now() + delayMs).toISOString();
    const inheritedIds: { correlationId?: string; causationId?: string } = {};
    if (inherited.correlationId !== undefined) inheritedIds.correlationId = inherited.correlationId;
    if (inherited.causationId !== undefined) inheritedIds.causationId = inherited.causationId;
    const { id, wire } = encodeMessage({ topic, source: this.service, body, options, ...inheritedIds, extraHeaders: extra });
    const headerCount = Object.keys(wire.headers).length;
    if (headerCount > this.transport.capabilities.maxHeaders) {
      throw new ValidationError(
        `Message for "${topic}" has ${headerCount} headers with metadata; the ${this.transport.name} transport carries at most ${this.transport.capabilities.maxHeaders}. Send fewer headers or move data into the body.`,
      );
    }
    const size = wireSize(wire);
    if (size > this.transport.capabilities.maxPayloadBytes) throw new PayloadTooLargeError(topic, size, this.transport.capabilities.maxPayloadBytes, this.transport.name);
    return { id, wire };
  }

  private async deliver(topic: string, wire: WireMessage, delayMs: number | undefined, inherited: Inherited, id: string): Promise<void> {
    const publish = () =>
      withPublishSpan({ system: this.transport.name, topic, id, correlationId: wire.headers[Attr.correlationId] }, async (inject) => {
        const headers = { ...wire.headers };
        inject(headers);
        const native = delayMs !== undefined && delayMs > 0 && this.transport.capabilities.delay === 'native' ? { delayMs } : {};
        try {
          await this.transport.publish({ topic, message: { ...wire, headers }, ...native });
        } catch (err) {
          if (err instanceof SwitchyardError) throw err;
          throw new ConnectionError(`Publishing to "${topic}" on ${this.transport.name} failed: ${errorMessage(err)}. The message was not confirmed; retry the publish.`, {
            cause: err,
          });
        }
      });
    await (inherited.otel ? runInContext(inherited.otel, publish) : publish());
  }

  private async ask(topic: string, body: unknown, options: RequestOptions, inherited: Inherited): Promise<unknown> {
    assertKnownOptions(options, REQUEST_OPTIONS, 'request');
    const timeoutMs = intInRange(options.timeoutMs, 5000, 1, DAY_MS, 'timeoutMs');
    const publishOptions: PublishOptions = {};
    if (options.headers !== undefined) publishOptions.headers = options.headers;
    if (options.key !== undefined) publishOptions.key = options.key;
    if (options.id !== undefined) publishOptions.id = options.id;
    if (options.correlationId !== undefined) publishOptions.correlationId = options.correlationId;
    // close() waits for the send; a reply still outstanding at close is rejected with ClosedError.
    const reply = await this.track(async () => {
      const address = await this.requester.address();
      const { id, wire } = this.prepare(topic, body, publishOptions, inherited, { [ReplyAttr.replyTo]: address });
      const pending = this.requester.expect(id, topic, responseSchema(this.contract, topic), timeoutMs, options.signal);
      // The reply can fail (abort, timeout) while the publish below still awaits its confirm —
      // on a real broker the request may be handled before the confirm is back. Mark it handled
      // now; the caller still receives the rejection through the returned promise.
      pending.catch(() => undefined);
      if (options.signal?.aborted) return { pending }; // aborted already: expect() rejected with its reason; send nothing
      try {
        await this.deliver(topic, wire, undefined, inherited, id);
      } catch (err) {
        this.requester.cancel(id, err);
      }
      return { pending };
    });
    return reply.pending;
  }

  private contextFactory(): (msg: Message, attempt: number, signal: AbortSignal, otel: Context) => HandlerContext {
    return (msg, attempt, signal, otel) => {
      const inherited: Inherited = { correlationId: msg.correlationId, causationId: msg.id, otel };
      return {
        signal,
        attempt,
        publish: (topic, body, options = {}) => {
          this.assertState('open', 'closing');
          return this.send(topic, body, options, inherited);
        },
        request: <R>(topic: string, body: unknown, options: RequestOptions = {}) => {
          this.assertState('open', 'closing');
          return this.ask(topic, body, options, inherited) as Promise<R>;
        },
      };
    };
  }

  private pulled<T>(msg: Message<T>, delivery: Delivery, target: Parameters<typeof deadLetter>[0], maxAttempts: number): PulledMessage<T> {
    let settled = false;
    const once = async (action: () => Promise<void>) => {
      if (settled) throw new ValidationError(`Message ${msg.id} was already acked or nacked.`);
      settled = true;
      await action();
    };
    return {
      ...msg,
      ack: () => once(() => delivery.ack()),
      nack: (options = {}) => {
        let delayMs: number;
        try {
          delayMs = intInRange(options.delayMs, 0, 0, DAY_MS, 'delayMs'); // before settling: a bad value must not strand the message
        } catch (err) {
          return Promise.reject(err);
        }
        return once(async () => {
          if (msg.attempt >= maxAttempts) {
            await this.deadLetterOrKeep(target, delivery, new Error(options.reason ?? `Nacked on attempt ${msg.attempt} of ${maxAttempts}`), msg.attempt);
          } else if (this.transport.capabilities.nack) {
            await delivery.nack({ delayMs });
          } else {
            await delivery.abandon();
          }
        });
      },
    };
  }

  private async deadLetterOrKeep(target: Parameters<typeof deadLetter>[0], delivery: Delivery, error: unknown, attempt: number): Promise<void> {
    try {
      await deadLetter(target, delivery.message, error, attempt);
      if (target.deadLetterTopic === false) this.logger.error('Dropping a message that cannot be handled (deadLetter: false)', { topic: target.topic, error: errorMessage(error) });
      await delivery.ack();
    } catch (dlqError) {
      this.logger.error('Dead-lettering failed; the message will be redelivered', { topic: target.topic, error: errorMessage(dlqError) });
      await delivery.abandon();
    }
  }

  private schemaFor(topic: string, schema: ZodType | undefined): ZodType | undefined {
    return messageSchema(this.contract, topic) ?? schema;
  }

  private groupOf(group: string | undefined): string {
    const resolved = group ?? this.service;
    assertTopicName(resolved, 'group');
    return resolved;
  }

  private deadLetterOf(topic: string, option: string | false | undefined): string | false {
    if (option === false) return false;
    const dlq = option ?? deadLetterTopicOf(topic);
    assertTopicName(dlq, 'dead-letter topic');
    return dlq;
  }

  private assertState(...allowed: State[]): void {
    if (!allowed.includes(this.state)) throw new ClosedError();
  }

  /** Run an operation the bus waits for when closing. */
  private track<T>(operation: () => Promise<T>): Promise<T> {
    let promise: Promise<T>;
    try {
      promise = operation();
    } catch (err) {
      return Promise.reject(err);
    }
    this.operations.add(promise);
    void promise.then(
      () => this.operations.delete(promise),
      () => this.operations.delete(promise),
    );
    return promise;
  }
}

function resolveIdempotency(options: IdempotencyOptions | undefined): ResolvedIdempotency | undefined {
  if (options === undefined) return undefined;
  assertKnownOptions(options, ['store', 'key', 'ttlMs', 'leaseMs'], 'idempotency');
  const store = options.store as Partial<ResolvedIdempotency['store']> | undefined;
  if (!store || typeof store.claim !== 'function' || typeof store.complete !== 'function' || typeof store.release !== 'function') {
    throw new ValidationError('idempotency.store must implement claim/complete/release, e.g. memoryIdempotencyStore().');
  }
  return {
    store: options.store,
    key: options.key ?? ((msg: Message) => msg.id),
    ttlMs: intInRange(options.ttlMs, DAY_MS, 1, 365 * DAY_MS, 'idempotency.ttlMs'),
    leaseMs: intInRange(options.leaseMs, 60_000, 1, DAY_MS, 'idempotency.leaseMs'),
  };
}

/** Create a bus and connect to its broker. */
export async function createBus<const C extends Contract = EmptyContract>(options: BusOptions<C>): Promise<Bus<C>> {
  assertKnownOptions(options, ['url', 'service', 'contract', 'logger', 'transport'], 'createBus');
  assertTopicName(options.service, 'service');
  const logger = options.logger ?? consoleLogger;
  let transport = options.transport;
  if (transport === undefined) {
    const { url, hosts } = parseBusUrl(options.url ?? process.env['SWITCHYARD_URL'] ?? 'memory://');
    transport = await createTransport(url, { service: options.service, logger, hosts });
    try {
      await transport.connect();
    } catch (err) {
      await transport.close().catch(() => undefined);
      if (err instanceof SwitchyardError) throw err;
      throw new ConnectionError(`Cannot connect to ${redactUrl(url)}: ${errorMessage(err)}. Check that the broker is running and the URL is right.`, { cause: err });
    }
  } else {
    await transport.connect();
  }
  return new Bus<C>(transport, options.service, options.contract, logger);
}
