import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { Context } from '@opentelemetry/api';
import { Attr, type BadTimeReporter, decodeMessage, encodeMessage, InternalHeader, type OwnedWire, ReplyAttr, warnBadTimeOnce } from './codec.js';
import {
  closedTopics,
  defineContract,
  describeNonSchema,
  isSchema,
  messageSchema,
  responseSchema,
  validateBody,
  type Contract,
  type EmptyContract,
  type PublishBody,
  type ReceiveBody,
  type NamedBody,
  type NamedMessage,
  type ResponseBody,
  type SchemaBody,
  type TopicName,
} from './contract.js';
import { assertCapabilities } from './capabilities.js';
import { deadLetter } from './dead-letter.js';
import { republishForGroup } from './group-copy.js';
import { GroupPolicies } from './group-policy.js';
import { type ContextSender, type Inherited, MessageContext } from './handler-context.js';
import { CapabilityError, ClosedError, ConnectionError, errorMessage, NoResponderError, PayloadTooLargeError, SwitchyardError, ValidationError } from './errors.js';
import { consoleLogger, safeLogger } from './logger.js';
import { assertTopicName, deadLetterTopicOf } from './names.js';
import { assertHeaderTotal, headerBytes, headerLimits, type HeaderLimits } from './limits.js';
import { checkPublishOptions } from './publish-checks.js';
import { PullBridge } from './pull-bridge.js';
import { PullHold } from './pull-hold.js';
import { RedeliveryCounter } from './redeliveries.js';
import { assertKnownOptions, intInRange } from './options.js';
import { createTransport, parseBusUrl, redactUrl } from './registry.js';
import { scrubSecrets, urlSecrets } from './redact.js';
import { deserializeReply, errorReply, okReply, Requester, sendReply, serializeReply, type ReplyEnvelope } from './request-reply.js';
import { backoffDelay, DEFAULT_RETRY, resolveRetryPolicy } from './retry.js';
import { SubscriptionRunner, type ResolvedIdempotency } from './runner.js';
import type { ConsumeOptions, Delivery, GroupPolicy, PublishRequest, Transport, WireMessage } from './spi.js';
import type { StandardSchemaV1 } from './standard-schema.js';
import { countDeadLetterFailure, telemetryActive, telemetryTarget, traceReceive, traceSend, traceSettle, type TelemetryTarget } from './telemetry.js';
import type {
  Capabilities,
  CloseOptions,
  Handler,
  HandlerContext,
  IdempotencyClaim,
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

const SUBSCRIBE_OPTIONS = ['group', 'concurrency', 'retry', 'deadLetter', 'idempotency', 'schema', 'handlerTimeoutMs'] as const;
const PULL_OPTIONS = ['group', 'max', 'waitMs', 'maxAttempts', 'deadLetter', 'schema'] as const;
const REPLY_OPTIONS = ['group', 'concurrency', 'schema', 'idempotency', 'handlerTimeoutMs'] as const;
const REQUEST_OPTIONS = ['timeoutMs', 'signal', 'headers', 'key', 'id', 'correlationId'] as const;
const DAY_MS = 86_400_000;
/** Pulled messages whose dead-letter publish failed come back this much later (growing with deliveries). */
const PULL_DEAD_LETTER_RETRY = { maxAttempts: Number.MAX_SAFE_INTEGER, initialDelayMs: 1000, maxDelayMs: 60_000, factor: 2 };

type State = 'open' | 'closing' | 'closed';

/** A message ready to send. */
interface Prepared {
  readonly id: string;
  readonly wire: WireMessage;
}

/** Options whose `schema` is given: its type S is what the body is inferred from. */
type WithSchema<O, S> = Omit<O, 'schema'> & { schema: S };

export class Bus<C extends Contract = EmptyContract> {
  readonly service: string;
  private readonly id = randomUUID().slice(0, 8);
  private readonly requester: Requester;
  private readonly subscriptions = new Set<SubscriptionRunner>();
  /** publish(), subscribe() and other calls under way, which close() lets finish (see watch()). */
  private operationsUnderWay = 0;
  private operationsDone: (() => void) | undefined;
  private state: State = 'open';
  private effectiveCapabilities: Capabilities | undefined;
  private headerLimits: HeaderLimits | undefined;
  private readonly redeliveries = new RedeliveryCounter();
  private readonly groupPolicies = new GroupPolicies();
  /** Groups declared (with their policy) for pull(), once per bus. */
  private readonly pullGroups = new Map<string, Promise<void>>();
  private readonly pullBridge: PullBridge;
  /** Pulled deliveries not due yet (emulated delay), handed out by a later pull. */
  private readonly pullHold: PullHold;
  /** pull() warns once per topic about unreadable ce-time values. */
  private readonly badTime: BadTimeReporter;
  private closing: Promise<void> | undefined;
  /** Aborts when close() starts: pending pulls return early instead of holding close up. */
  private readonly closeSignal = new AbortController();
  /** With a closed contract: the only topics this bus uses. */
  private readonly allowedTopics: ReadonlySet<string> | undefined;
  /** How spans and metrics name this bus's broker. */
  private readonly telemetry: TelemetryTarget;

  /** Use createBus(). */
  constructor(
    private readonly transport: Transport,
    service: string,
    private readonly contract: C | undefined,
    private readonly logger: Logger,
  ) {
    this.service = service;
    this.allowedTopics = closedTopics(contract);
    this.telemetry = telemetryTarget(transport);
    setMaxListeners(0, this.closeSignal.signal); // one listener per pending pull: bounded by the caller, not a leak
    this.pullBridge = new PullBridge(transport);
    this.pullHold = new PullHold((topic, group, delivery, dueAt) => this.replaceHeld(topic, group, delivery, dueAt), transport.capabilities.leaseMs);
    this.requester = new Requester(transport, `${service}.${this.id}`, logger);
    this.badTime = warnBadTimeOnce(logger);
  }

  /** The header limits every publish checks: the capabilities' already narrowed to the portable ones. */
  private get publishLimits(): HeaderLimits {
    const caps = this.capabilities;
    this.headerLimits ??= { valueBytes: caps.maxHeaderValueBytes, totalBytes: caps.maxHeaderBytes };
    return this.headerLimits;
  }

  /** What the transport does natively, with header limits as core enforces them (portable limits applied). */
  get capabilities(): Capabilities {
    this.effectiveCapabilities ??= withPortableLimits(this.transport.capabilities);
    return this.effectiveCapabilities;
  }

  /** Resolves once the broker confirmed the write. */
  publish<K extends TopicName<C>>(topic: K, body: PublishBody<C, K>, options: PublishOptions = {}): Promise<PublishResult> {
    // No closure for track(): this runs for every message.
    if (this.state !== 'open') return Promise.reject(new ClosedError());
    return this.watch(this.send(topic, body, options, NOTHING_INHERITED));
  }

  /** With `options.schema` (any Standard Schema) on a topic outside the contract, `msg.body` is the schema's output. */
  subscribe<K extends TopicName<C>, S extends StandardSchemaV1>(
    topic: K,
    handler: Handler<SchemaBody<C, K, S>, C>,
    options: WithSchema<SubscribeOptions<SchemaBody<C, K, S>>, S>,
  ): Promise<Subscription>;
  /** Push consumption. On a contract topic `msg.body` has the contract's type; elsewhere `unknown`. */
  subscribe<K extends TopicName<C>>(topic: K, handler: Handler<ReceiveBody<C, K>, C>, options?: SubscribeOptions<ReceiveBody<C, K>>): Promise<Subscription>;
  /**
   * On a bus without a contract, name the body type: `bus.subscribe<Order>('order.placed', ...)`.
   * Nothing checks it unless `options.schema` (typed to match) is given. With a contract this
   * form gives `unknown`: typed topics belong in the contract, which validates them.
   */
  subscribe<T>(topic: TopicName<C>, handler: Handler<NamedBody<C, T>, C>, options?: SubscribeOptions<NamedBody<C, T>>): Promise<Subscription>;
  async subscribe<T>(topic: string, handler: Handler<T, C>, options: SubscribeOptions<T> = {}): Promise<Subscription> {
    assertKnownOptions(options, SUBSCRIBE_OPTIONS, 'subscribe');
    if (typeof handler !== 'function') throw new ValidationError(`subscribe("${topic}") needs a handler function as its second argument.`);
    return this.track(async () => {
      this.assertState('open');
      assertTopicName(topic);
      const group = this.groupOf(options.group);
      const deadLetterTopic = this.deadLetterOf(topic, options.deadLetter);
      const concurrency = intInRange(options.concurrency, 1, 1, 10_000, 'concurrency');
      const runner = new SubscriptionRunner({
        transport: this.transport,
        topic,
        group,
        policy: resolveRetryPolicy(options.retry),
        deadLetterTopic,
        schema: this.schemaFor(topic, options.schema),
        idempotency: resolveIdempotency(options.idempotency as IdempotencyOptions | undefined, group),
        logger: this.logger,
        redeliveries: this.redeliveries.scope(topic, group),
        concurrency,
        handlerTimeoutMs: optionalTimeout(options.handlerTimeoutMs),
        // The handler's result is not kept (only a reply handler's is: remembersResult): passed on, not awaited here.
        handle: (msg, ctx, _wire, limit) => limit(() => handler(msg as Message<T>, typedContext<C>(ctx))),
        makeContext: this.contextFactory(),
      });
      return this.start(runner, topic, group, { maxAttempts: runner.maxAttempts, retry: runner.retry, deadLetterTopic, concurrency, ephemeral: false });
    });
  }

  /** With `options.schema` on a topic outside the contract, the bodies have the schema's output type. */
  pull<K extends TopicName<C>, S extends StandardSchemaV1>(topic: K, options: WithSchema<PullOptions<SchemaBody<C, K, S>>, S>): Promise<PulledMessage<SchemaBody<C, K, S>>[]>;
  /** Pull pattern: wait up to waitMs for messages, get up to max; ack or nack each. */
  pull<K extends TopicName<C>>(topic: K, options?: PullOptions<ReceiveBody<C, K>>): Promise<PulledMessage<ReceiveBody<C, K>>[]>;
  /** On a bus without a contract, name the body type: `bus.pull<Job>('jobs')` (see subscribe<T>). */
  pull<T>(topic: TopicName<C>, options?: PullOptions<NamedBody<C, T>>): Promise<PulledMessage<NamedBody<C, T>>[]>;
  async pull<T>(topic: string, options: PullOptions<T> = {}): Promise<PulledMessage<T>[]> {
    assertKnownOptions(options, PULL_OPTIONS, 'pull');
    return this.track(async () => {
      this.assertState('open');
      assertTopicName(topic);
      const group = this.groupOf(options.group);
      const max = intInRange(options.max, 10, 1, 1000, 'max');
      const waitMs = intInRange(options.waitMs, 1000, 0, 300_000, 'waitMs');
      const maxAttempts = intInRange(options.maxAttempts, 5, 1, 1000, 'maxAttempts');
      const target = { transport: this.transport, topic, group, deadLetterTopic: this.deadLetterOf(topic, options.deadLetter) };
      const policy: GroupPolicy = { maxAttempts, retry: { ...DEFAULT_RETRY, maxAttempts }, deadLetterTopic: target.deadLetterTopic, concurrency: max, ephemeral: false };
      this.checkGroup(topic, group, policy);
      await this.declarePullGroup(topic, group, policy);
      const schema = this.schemaFor(topic, options.schema);
      const signal = this.closeSignal.signal;
      const deliveries = await traceReceive(this.telemetry, topic, group, () =>
        this.pullHold.pull(topic, group, max, waitMs, signal, (n, wait) =>
          this.transport.pull ? this.transport.pull(topic, group, { max: n, waitMs: wait, signal }) : this.pullBridge.pull(topic, group, { max: n, waitMs: wait, signal }, policy),
        ),
      );
      const out: PulledMessage<T>[] = [];
      const counts = this.redeliveries.scope(topic, group);
      for (const delivery of deliveries) {
        const attempt = counts.attempt(delivery, this.transport.capabilities.deliveryCount);
        const forGroup = delivery.message.headers[InternalHeader.forGroup];
        if (forGroup !== undefined && forGroup !== group) {
          await delivery.ack(); // a copy republished for another group of the topic
          continue;
        }
        if (attempt > maxAttempts && target.deadLetterTopic !== false) {
          // Came back past its last attempt (a dead-letter publish failed earlier): don't hand it out again.
          await this.deadLetterOrKeep(
            target,
            delivery,
            new Error(`Delivered ${attempt} times; maxAttempts is ${maxAttempts}, so it is dead-lettered without being handed out again.`),
            attempt,
          );
          continue;
        }
        try {
          const decoded = decodeMessage<T>(delivery.message, topic, attempt, delivery.brokerId, this.badTime);
          const body = (await validateBody(schema, decoded.body, `Message ${decoded.id} on "${topic}"`)) as T;
          out.push(this.pulled({ ...decoded, body }, delivery, target, maxAttempts));
        } catch (err) {
          // Poison: never hand it to the app, never loop on it.
          await this.deadLetterOrKeep(target, delivery, err, attempt);
        }
      }
      return out;
    });
  }

  /** With `options.schema` on a topic outside the contract, the request body has the schema's output type. */
  reply<K extends TopicName<C>, S extends StandardSchemaV1>(
    topic: K,
    handler: ReplyHandler<SchemaBody<C, K, S>, ResponseBody<C, K>, C>,
    options: WithSchema<ReplyOptions<SchemaBody<C, K, S>>, S>,
  ): Promise<Subscription>;
  /** Answer requests on `topic`. What the handler returns is the reply; what it throws reaches the requester as RemoteHandlerError. */
  reply<K extends TopicName<C>>(topic: K, handler: ReplyHandler<ReceiveBody<C, K>, ResponseBody<C, K>, C>, options?: ReplyOptions<ReceiveBody<C, K>>): Promise<Subscription>;
  /**
   * On a bus without a contract, name the request and response types: `bus.reply<StockQuery, Stock>(...)`
   * (see subscribe<T>; with a contract both are `unknown`).
   */
  reply<Req, Res>(topic: TopicName<C>, handler: ReplyHandler<NamedBody<C, Req>, NamedMessage<C, Res>, C>, options?: ReplyOptions<NamedBody<C, Req>>): Promise<Subscription>;
  async reply<T, R>(topic: string, handler: ReplyHandler<T, R, C>, options: ReplyOptions<T> = {}): Promise<Subscription> {
    assertKnownOptions(options, REPLY_OPTIONS, 'reply');
    if (typeof handler !== 'function') throw new ValidationError(`reply("${topic}") needs a handler function as its second argument.`);
    return this.track(async () => {
      this.assertState('open');
      assertTopicName(topic);
      const group = this.groupOf(options.group);
      const resSchema = responseSchema(this.contract, topic);
      const send = (request: WireMessage, reply: ReplyEnvelope) => sendReply(this.transport, request, this.service, reply);
      const concurrency = intInRange(options.concurrency, 1, 1, 10_000, 'concurrency');
      const idempotency = resolveIdempotency(options.idempotency as IdempotencyOptions | undefined, group);
      const keepsReply = idempotency !== undefined;
      const runner = new SubscriptionRunner({
        transport: this.transport,
        topic,
        group,
        // A requester is waiting: answer once, now. Retrying would send it a second reply.
        policy: resolveRetryPolicy(false),
        deadLetterTopic: false,
        schema: this.schemaFor(topic, options.schema),
        idempotency,
        logger: this.logger,
        redeliveries: this.redeliveries.scope(topic, group),
        concurrency,
        handlerTimeoutMs: optionalTimeout(options.handlerTimeoutMs),
        remembersResult: true,
        handle: async (msg, ctx, wire, limit) => {
          let reply: ReplyEnvelope;
          try {
            const result = await limit(() => handler(msg as Message<T>, typedContext<C>(ctx)));
            reply = okReply(await validateBody(resSchema, result, `Reply from "${topic}"`));
          } catch (err) {
            this.logger.warn('Reply handler failed; the requester gets RemoteHandlerError', { topic, id: msg.id, error: errorMessage(err) });
            reply = errorReply(err);
          }
          await send(wire, reply);
          // Kept only by idempotency (a duplicate gets the same reply): otherwise not serialized.
          return keepsReply ? serializeReply(reply) : undefined;
        },
        onDuplicate: async (_msg, result, wire) => {
          if (result !== undefined) await send(wire, deserializeReply(result));
        },
        onPoison: async (wire, error) => send(wire, errorReply(error)),
        makeContext: this.contextFactory(),
      });
      return this.start(runner, topic, group, { maxAttempts: 1, retry: runner.retry, deadLetterTopic: false, concurrency, ephemeral: false }, true);
    });
  }

  /** Send a request and wait for its reply (default timeout 5 s). On a contract topic body and reply have the contract's types. */
  request<K extends TopicName<C>>(topic: K, body: PublishBody<C, K>, options?: RequestOptions): Promise<ResponseBody<C, K>>;
  /** On a bus without a contract, name the request and response types: `bus.request<StockQuery, Stock>(...)` (nothing checks the reply). */
  request<Req, Res>(topic: TopicName<C>, body: NamedMessage<C, Req>, options?: RequestOptions): Promise<NamedMessage<C, Res>>;
  request(topic: string, body: unknown, options: RequestOptions = {}): Promise<unknown> {
    try {
      this.assertState('open');
    } catch (err) {
      return Promise.reject(err);
    }
    return this.ask(topic, body, options, {});
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
    await this.operationsSettled();
    await Promise.allSettled([...this.subscriptions].map((s) => s.close(options)));
    await this.pullHold.close();
    await this.pullBridge.close();
    await this.requester.close();
    this.state = 'closed';
    await this.transport.close();
  }

  private async start(runner: SubscriptionRunner, topic: string, group: string, policy: GroupPolicy, answersRequests = false): Promise<Subscription> {
    this.checkGroup(topic, group, policy);
    const release = this.groupPolicies.claim(topic, group, policy);
    try {
      // Keep dead letters for this group even before anyone reads the DLQ.
      if (policy.deadLetterTopic !== false) await this.transport.declareGroup(policy.deadLetterTopic, group);
      const options: ConsumeOptions = { prefetch: prefetchFor(policy.concurrency), policy, ...(answersRequests ? { answersRequests } : {}) };
      const consumer = await this.transport.consume(topic, group, options, runner.onDelivery);
      runner.attach(consumer);
    } catch (err) {
      release();
      throw err;
    }
    this.subscriptions.add(runner);
    return {
      topic,
      group,
      close: async (options?: CloseOptions) => {
        await runner.close(options);
        this.subscriptions.delete(runner);
        release();
      },
    };
  }

  /**
   * Before consuming: what the transport cannot do is a CapabilityError now, not a silent gap
   * later; a policy that contradicts this group's live one is a ConfigurationError.
   */
  private checkGroup(topic: string, group: string, policy: GroupPolicy): void {
    const caps = this.transport.capabilities;
    if (!caps.consumerGroups && group !== this.service) {
      throw new CapabilityError(
        'consumerGroups',
        `The ${this.transport.name} transport has no consumer groups, so group "${group}" on "${topic}" cannot be kept apart from the service's own ("${this.service}"). Leave out the group option, or use a broker with consumer groups.`,
      );
    }
    if (!caps.fanOut) {
      const other = [...this.subscriptions].find((s) => s.topic === topic && s.group !== group);
      if (other) {
        throw new CapabilityError(
          'fanOut',
          `The ${this.transport.name} transport cannot give every group its own copy: "${topic}" is already consumed by group "${other.group}", so group "${group}" would split its messages instead. Use one group per topic, or a broker with fan-out.`,
        );
      }
    }
    this.groupPolicies.check(topic, group, policy);
  }

  /** pull() declares its group (and its policy) once per bus: a group must exist before messages for it are kept. */
  private declarePullGroup(topic: string, group: string, policy: GroupPolicy): Promise<void> {
    const key = `${topic}\0${group}`;
    let declared = this.pullGroups.get(key);
    if (!declared) {
      declared = (async () => {
        if (policy.deadLetterTopic !== false) await this.transport.declareGroup(policy.deadLetterTopic, group);
        await this.transport.declareGroup(topic, group, policy);
      })();
      this.pullGroups.set(key, declared);
      declared.catch(() => this.pullGroups.delete(key));
    }
    return declared;
  }

  private async send(topic: string, body: unknown, options: PublishOptions, inherited: Inherited): Promise<PublishResult> {
    const prepared = this.prepare(topic, body, options, inherited, NO_HEADERS);
    // A sync schema adds no await, so publishes issued in order reach the transport in order.
    const { wire, id } = prepared instanceof Promise ? await prepared : prepared;
    const request = this.publishRequest(topic, wire, options.delayMs);
    if (telemetryActive()) await traceSend(this.telemetry, topic, wire, inherited.otel, this.publishConfirmed, request);
    else {
      // publishConfirmed() inlined: without telemetry a publish then has one async frame less.
      try {
        await this.transport.publish(request);
      } catch (err) {
        throw this.publishError(topic, err);
      }
    }
    return { id };
  }

  /** Validate and encode; throws (or, with an async schema, rejects) before anything is sent. */
  private prepare(topic: string, body: unknown, options: PublishOptions, inherited: Inherited, extraHeaders: Readonly<Record<string, string>>): Prepared | Promise<Prepared> {
    assertTopicName(topic);
    this.assertInContract(topic);
    const limits = this.publishLimits;
    const delayMs = checkPublishOptions(options, limits, this.transport.name);
    const schema = messageSchema(this.contract, topic);
    // The body is sent as given (the schema's input); receivers parse it into the output.
    const checked = schema === undefined ? undefined : validateBody(schema, body, `Body for "${topic}"`);
    if (checked instanceof Promise) return checked.then(() => this.encode(topic, body, options, inherited, extraHeaders, delayMs, limits));
    return this.encode(topic, body, options, inherited, extraHeaders, delayMs, limits);
  }

  private encode(
    topic: string,
    body: unknown,
    options: PublishOptions,
    inherited: Inherited,
    extraHeaders: Readonly<Record<string, string>>,
    delayMs: number,
    limits: HeaderLimits,
  ): Prepared {
    // Beyond what the broker can delay, ce-notbefore makes the consumer's core wait out the rest.
    const extra =
      delayMs > nativeDelayOf(this.transport.capabilities, delayMs) ? { ...extraHeaders, [Attr.notBefore]: new Date(Date.now() + delayMs).toISOString() } : extraHeaders;
    const { correlationId, causationId } = inherited;
    const { id, wire } = encodeMessage({ topic, source: this.service, body, options, correlationId, causationId, extraHeaders: extra });
    const headerSize = headerBytes(wire.headers, wire.key);
    assertHeaderTotal(topic, headerSize, limits, this.transport.name);
    const headerCount = countOf(wire.headers);
    if (headerCount > this.transport.capabilities.maxHeaders) {
      throw new ValidationError(
        `Message for "${topic}" has ${headerCount} headers with metadata; the ${this.transport.name} transport carries at most ${this.transport.capabilities.maxHeaders}. Send fewer headers or move data into the body.`,
      );
    }
    const size = wire.body.byteLength + headerSize; // = wireSize(wire), without measuring the headers twice
    if (size > this.transport.capabilities.maxPayloadBytes) throw new PayloadTooLargeError(topic, size, this.transport.capabilities.maxPayloadBytes, this.transport.name);
    return { id, wire };
  }

  private deliver(topic: string, wire: OwnedWire, delayMs: number | undefined, inherited: Inherited): Promise<void> {
    return traceSend(this.telemetry, topic, wire, inherited.otel, this.publishConfirmed, this.publishRequest(topic, wire, delayMs));
  }

  private publishRequest(topic: string, wire: OwnedWire, delayMs: number | undefined): PublishRequest {
    const nativeDelayMs = nativeDelayOf(this.transport.capabilities, delayMs ?? 0);
    return nativeDelayMs > 0 ? { topic, message: wire, delayMs: nativeDelayMs } : { topic, message: wire };
  }

  /** The transport's publish, its failures as Switchyard errors. An arrow: traceSend calls it detached. */
  private readonly publishConfirmed = async (request: PublishRequest): Promise<void> => {
    try {
      await this.transport.publish(request);
    } catch (err) {
      throw this.publishError(request.topic, err);
    }
  };

  private publishError(topic: string, err: unknown): SwitchyardError {
    if (err instanceof SwitchyardError) return err;
    return new ConnectionError(`Publishing to "${topic}" on ${this.transport.name} failed: ${errorMessage(err)}. The message was not confirmed; retry the publish.`, {
      cause: err,
    });
  }

  private async ask(topic: string, body: unknown, options: RequestOptions, inherited: Inherited): Promise<unknown> {
    assertKnownOptions(options, REQUEST_OPTIONS, 'request');
    if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
      throw new ValidationError('request option signal must be an AbortSignal, e.g. AbortSignal.timeout(1000) or controller.signal.');
    }
    const timeoutMs = intInRange(options.timeoutMs, 5000, 1, DAY_MS, 'timeoutMs');
    const publishOptions: PublishOptions = {};
    if (options.headers !== undefined) publishOptions.headers = options.headers;
    if (options.key !== undefined) publishOptions.key = options.key;
    if (options.id !== undefined) publishOptions.id = options.id;
    if (options.correlationId !== undefined) publishOptions.correlationId = options.correlationId;
    // close() waits for the send; a reply still outstanding at close is rejected with ClosedError.
    const reply = await this.track(async () => {
      // Both are synchronous after the first request (inbox open) and without an async schema.
      const opened = this.requester.address();
      const address = typeof opened === 'string' ? opened : await opened;
      const prepared = this.prepare(topic, body, publishOptions, inherited, { [ReplyAttr.replyTo]: address });
      const { id, wire } = prepared instanceof Promise ? await prepared : prepared;
      const direct = this.transport.requestDirect !== undefined;
      // The direct path learns of "no responders" from the broker itself (see askDirect).
      if (!direct) await this.assertResponders(topic);
      const pending = this.requester.expect(id, topic, responseSchema(this.contract, topic), timeoutMs, options.signal);
      // The reply can fail (abort, timeout) while the publish below still awaits its confirm —
      // on a real broker the request may be handled before the confirm is back. Mark it handled
      // now; the caller still receives the rejection through the returned promise.
      pending.catch(() => undefined);
      if (options.signal?.aborted) return { pending }; // aborted already: expect() rejected with its reason; send nothing
      try {
        if (direct) await this.askDirect(topic, id, wire, timeoutMs, inherited);
        else await this.deliver(topic, wire, undefined, inherited);
      } catch (err) {
        this.requester.cancel(id, err);
      }
      return { pending };
    });
    return reply.pending;
  }

  /**
   * The transport's direct request path: straight to a live member of an answering group, its
   * reply handed back by the transport. One that no live member took is published as usual (after
   * the responder check), so a group that is declared but down still answers it when it is back.
   * Resolves once the request is sent; the reply or failure reaches the requester's pending entry.
   */
  private async askDirect(topic: string, id: string, wire: OwnedWire, timeoutMs: number, inherited: Inherited): Promise<void> {
    let answered: Promise<WireMessage | undefined> | undefined;
    const sendDirect = async (): Promise<void> => {
      // The transport's wait outlasts core's timer, so the caller sees core's RequestTimeoutError.
      answered = this.transport.requestDirect!(topic, wire, timeoutMs + DIRECT_WAIT_MARGIN_MS);
    };
    await traceSend(this.telemetry, topic, wire, inherited.otel, sendDirect, undefined);
    answered!.then(
      (reply) => {
        if (reply !== undefined) return this.requester.accept(reply);
        // Nobody live: store it like any request (unless its caller gave up meanwhile). close() waits for this publish too.
        if (!this.requester.isWaiting(id)) return;
        void this.track(async () => {
          try {
            await this.assertResponders(topic);
            await this.deliver(topic, wire, undefined, inherited);
          } catch (err) {
            this.requester.cancel(id, err);
          }
        });
      },
      (err: unknown) => this.requester.cancel(id, this.publishError(topic, err)),
    );
  }

  /** Where the broker can tell nobody serves the topic, fail now rather than after the timeout. */
  private async assertResponders(topic: string): Promise<void> {
    const { transport } = this;
    if (!transport.capabilities.noResponders || transport.hasResponders === undefined) return;
    if (!(await transport.hasResponders(topic))) throw new NoResponderError(topic);
  }

  private contextFactory(): (msg: Message, attempt: number, signal: AbortSignal, otel: Context | undefined, claim?: IdempotencyClaim) => HandlerContext {
    const sender: ContextSender = {
      publish: (topic, body, options, inherited) => {
        this.assertState('open', 'closing');
        return this.send(topic, body, options, inherited);
      },
      request: (topic, body, options, inherited) => {
        this.assertState('open', 'closing');
        return this.ask(topic, body, options, inherited);
      },
    };
    // Typed per contract by the handler's signature (HandlerContext<C>); one implementation serves all.
    return (msg, attempt, signal, otel, claim) => new MessageContext(sender, msg, attempt, signal, otel, claim);
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
      ack: () =>
        once(() => {
          this.redeliveries.scope(target.topic, target.group).forget(delivery);
          return traceSettle(this.telemetry, 'ack', target.topic, target.group, delivery.message, undefined, ackDelivery, delivery);
        }),
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
          } else {
            await traceSettle(this.telemetry, 'nack', target.topic, target.group, delivery.message, undefined, (d) => this.giveBack(target, d, msg.attempt, delayMs), delivery);
          }
        });
      },
    };
  }

  /** A pulled delivery held past EMULATED_DELAY_HOLD_MS and still not due: a copy for its group takes its place. */
  private async replaceHeld(topic: string, group: string, delivery: Delivery, dueAt: number): Promise<void> {
    const counts = this.redeliveries.scope(topic, group);
    const attempt = counts.attempt(delivery, this.transport.capabilities.deliveryCount);
    await republishForGroup(this.transport, delivery.message, { topic, group, priorAttempts: attempt - 1, dueAt });
    counts.forget(delivery);
    await delivery.ack();
  }

  /**
   * A pulled message nacked with delayMs: the broker redelivers it then where it can delay that
   * long; otherwise a copy for this group, due then, replaces it (its attempts carried over).
   */
  private async giveBack(target: { topic: string; group: string }, delivery: Delivery, attempt: number, delayMs: number): Promise<void> {
    const caps = this.transport.capabilities;
    if (delayMs === 0 ? caps.nack !== 'none' : caps.nack === 'delayed' && delayMs <= caps.maxNackDelayMs) return delivery.nack({ delayMs });
    if (delayMs === 0) return delivery.abandon();
    try {
      await republishForGroup(this.transport, delivery.message, { topic: target.topic, group: target.group, priorAttempts: attempt, dueAt: Date.now() + delayMs });
    } catch (err) {
      // Nothing lost: back at once instead of later.
      this.logger.warn('Could not schedule the delayed redelivery of a nacked message; it goes back at once', { topic: target.topic, error: errorMessage(err) });
      return caps.nack === 'none' ? delivery.abandon() : delivery.nack({ delayMs: 0 });
    }
    this.redeliveries.scope(target.topic, target.group).forget(delivery);
    await delivery.ack();
  }

  private async deadLetterOrKeep(target: Parameters<typeof deadLetter>[0], delivery: Delivery, error: unknown, attempt: number): Promise<void> {
    try {
      try {
        await deadLetter(target, delivery.message, error, attempt);
      } catch (refused) {
        // Refused for what it is (not for the moment): the minimal copy, as subscriptions do.
        if (!(refused instanceof ValidationError || refused instanceof PayloadTooLargeError)) throw refused;
        await deadLetter(target, delivery.message, error, attempt, 'minimal');
      }
      if (target.deadLetterTopic === false) this.logger.error('Dropping a message that cannot be handled (deadLetter: false)', { topic: target.topic, error: errorMessage(error) });
      this.redeliveries.scope(target.topic, target.group).forget(delivery);
      await traceSettle(this.telemetry, target.deadLetterTopic === false ? 'ack' : 'dead_letter', target.topic, target.group, delivery.message, undefined, ackDelivery, delivery);
    } catch (dlqError) {
      countDeadLetterFailure(this.telemetry, target.topic, target.group, dlqError);
      // Back to the broker, later each time where it can delay: its next delivery retries only the dead-lettering.
      const delayMs = Math.min(backoffDelay(PULL_DEAD_LETTER_RETRY, Math.max(2, attempt)), this.transport.capabilities.maxNackDelayMs);
      const canDelay = this.transport.capabilities.nack === 'delayed';
      this.logger.error('Dead-lettering failed; the message goes back to the broker and only the dead-lettering is retried', {
        topic: target.topic,
        retryInMs: canDelay ? delayMs : 0,
        error: errorMessage(dlqError),
      });
      await traceSettle(
        this.telemetry,
        canDelay ? 'nack' : 'abandon',
        target.topic,
        target.group,
        delivery.message,
        undefined,
        (d) => (canDelay ? d.nack({ delayMs }) : d.abandon()),
        delivery,
      );
    }
  }

  private schemaFor(topic: string, schema: StandardSchemaV1 | undefined): StandardSchemaV1 | undefined {
    this.assertInContract(topic);
    if (schema !== undefined && !isSchema(schema)) {
      throw new ValidationError(`schema must be a Standard Schema (zod 4, valibot, arktype, ...), e.g. z.object({ orderId: z.string() }); got ${describeNonSchema(schema)}.`);
    }
    return messageSchema(this.contract, topic) ?? schema;
  }

  /** A closed contract names every topic this bus uses (plus their dead-letter topics). */
  private assertInContract(topic: string): void {
    if (this.allowedTopics === undefined || this.allowedTopics.has(topic)) return;
    const known = Object.keys(this.contract ?? {});
    const listed = known.length > 8 ? `${known.slice(0, 8).join(', ')}, ...` : known.join(', ');
    throw new ValidationError(`Topic "${topic}" is not in this bus's closed contract (${listed}). Fix the name, or add the topic to defineContract({...}, { closed: true }).`);
  }

  private groupOf(group: string | undefined): string {
    const resolved = group ?? this.service;
    assertTopicName(resolved, 'group');
    return resolved;
  }

  private deadLetterOf(topic: string, option: string | false | undefined): string | false {
    if (option === false) return false;
    if (option !== undefined && typeof option !== 'string') {
      throw new ValidationError(`deadLetter must be a topic name or false; got ${typeof option}. Leave it out for the default (deadLetterTopicOf(topic)).`);
    }
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
    return this.watch(promise);
  }

  /** An operation under way that close() waits for: counted, with one shared callback, since publish() watches every message. */
  private watch<T>(promise: Promise<T>): Promise<T> {
    this.operationsUnderWay++;
    void promise.then(this.operationDone, this.operationDone);
    return promise;
  }

  private readonly operationDone = (): void => {
    if (--this.operationsUnderWay > 0) return;
    const done = this.operationsDone;
    this.operationsDone = undefined;
    done?.();
  };

  /** Resolves once no operation is under way. Only shutdown() waits for this, and it runs once. */
  private operationsSettled(): Promise<void> {
    if (this.operationsUnderWay === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.operationsDone = resolve;
    });
  }
}

/**
 * Deliveries asked of the transport: the handler slots plus headroom for messages that hold a
 * delivery but no slot (a dead-letter publish being retried, an emulated delay being waited out),
 * so those never stop the messages behind them. The runner enforces `concurrency` itself.
 */
function prefetchFor(concurrency: number): number {
  return concurrency + Math.min(Math.max(concurrency, 4), 64);
}

function optionalTimeout(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  return intInRange(value as number, 0, 1, DAY_MS, 'handlerTimeoutMs');
}

/** Acks a delivery: shared, so settling a pulled message through traceSettle makes no closure. */
const ackDelivery = (delivery: Delivery): Promise<void> => delivery.ack();

/** How much longer than the request's timeout a transport's direct request waits for its reply. */
const DIRECT_WAIT_MARGIN_MS = 1000;

/** No extra headers: shared, so a plain publish allocates no empty object for them. */
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});
/** What a publish outside any handler inherits: nothing (one shared object, not one per publish). */
const NOTHING_INHERITED: Inherited = Object.freeze({});

/** Own keys of a record, counted without allocating their array (once per publish). */
function countOf(record: Readonly<Record<string, string>>): number {
  let count = 0;
  for (const _ in record) count++;
  return count;
}

function withPortableLimits(caps: Capabilities): Capabilities {
  const limits = headerLimits(caps);
  return Object.freeze({ ...caps, maxHeaderValueBytes: limits.valueBytes, maxHeaderBytes: limits.totalBytes });
}

/** The default key is scoped by group: groups sharing a store must not skip each other's messages. */
function resolveIdempotency(options: IdempotencyOptions | undefined, group: string): ResolvedIdempotency | undefined {
  if (options === undefined) return undefined;
  assertKnownOptions(options, ['store', 'key', 'ttlMs', 'leaseMs'], 'idempotency');
  const store = options.store as Partial<ResolvedIdempotency['store']> | undefined;
  if (!store || typeof store.claim !== 'function' || typeof store.complete !== 'function' || typeof store.release !== 'function') {
    throw new ValidationError('idempotency.store must implement claim/complete/release, e.g. memoryIdempotencyStore().');
  }
  if (options.key !== undefined && typeof options.key !== 'function') {
    throw new ValidationError(`idempotency.key must be a function of the message, e.g. (msg) => msg.body.orderId; got ${typeof options.key}.`);
  }
  return {
    store: options.store,
    key: options.key ?? ((msg: Message) => `${group}:${msg.id}`),
    ttlMs: intInRange(options.ttlMs, DAY_MS, 1, 365 * DAY_MS, 'idempotency.ttlMs'),
    leaseMs: intInRange(options.leaseMs, 60_000, 1, DAY_MS, 'idempotency.leaseMs'),
  };
}

const TRANSPORT_METHODS = ['connect', 'publish', 'declareGroup', 'consume', 'health', 'close'] as const;

function assertTransport(transport: unknown): void {
  const candidate = transport as Record<string, unknown> | null;
  const missing = typeof candidate === 'object' && candidate !== null ? TRANSPORT_METHODS.filter((m) => typeof candidate[m] !== 'function') : [...TRANSPORT_METHODS];
  if (missing.length > 0 || typeof candidate?.['capabilities'] !== 'object') {
    throw new ValidationError(
      `transport must implement the Transport SPI (capabilities and ${TRANSPORT_METHODS.join(', ')}); missing: ${[...missing, ...(typeof candidate?.['capabilities'] === 'object' ? [] : ['capabilities'])].join(', ')}.`,
    );
  }
}

/** Create a bus and connect to its broker. */
export async function createBus<const C extends Contract = EmptyContract>(options: BusOptions<C>): Promise<Bus<C>> {
  assertKnownOptions(options, ['url', 'service', 'contract', 'logger', 'transport'], 'createBus');
  assertTopicName(options.service, 'service');
  const logger = safeLogger(options.logger ?? consoleLogger);
  if (options.contract !== undefined) defineContract(options.contract);
  if (options.transport !== undefined) assertTransport(options.transport);
  let transport = options.transport;
  if (transport === undefined) {
    const { url, hosts } = parseBusUrl(options.url ?? process.env['SWITCHYARD_URL'] ?? 'memory://');
    transport = await createTransport(url, { service: options.service, logger, hosts });
    try {
      await transport.connect();
    } catch (err) {
      await transport.close().catch(() => undefined);
      if (err instanceof SwitchyardError) throw err;
      // A custom transport's error may quote the URL or its password: pass on a scrubbed message, not the error itself.
      const detail = scrubSecrets(errorMessage(err), urlSecrets(url));
      throw new ConnectionError(`Cannot connect to ${redactUrl(url)}: ${detail}. Check that the broker is running and the URL is right.`);
    }
  } else {
    await transport.connect();
  }
  try {
    assertCapabilities(transport.name, transport.capabilities);
  } catch (err) {
    await transport.close().catch(() => undefined);
    throw err;
  }
  return new Bus<C>(transport, options.service, options.contract, logger);
}

/**
 * The runner builds one untyped context; the contract only narrows what callers may pass to the
 * same implementation (and a closed contract is enforced at run time too), so the view is safe.
 */
function typedContext<C extends Contract>(ctx: HandlerContext): HandlerContext<C> {
  return ctx as unknown as HandlerContext<C>;
}

/** How much of `delayMs` the broker waits out itself when publishing (the rest is ce-notbefore's). */
function nativeDelayOf(caps: Capabilities, delayMs: number): number {
  return caps.delay === 'native' ? Math.min(delayMs, caps.maxNativeDelayMs) : 0;
}
