/**
 * Publishing without amqplib's argument builder, so the header table is encoded at its normal cost.
 *
 * amqplib's `Channel#publish` builds the frame's fields with `Object.create(options.headers)`: the
 * header table becomes the prototype of an empty object. V8 switches an object it sees become a
 * prototype to a slower representation, and the encoder's `for…in` then walks the prototype chain
 * with generic lookups: encoding Switchyard's CloudEvents headers took about twice as long (some
 * 5 µs per message; a raw client sending no headers never pays it). Here the same fields are built
 * with the headers object as it is and handed to the channel's `sendMessage`, the method
 * `publish` ends in: the same bytes go out (test/send.test.ts compares them with amqplib's own
 * encoding). `sendMessage` and `pushConfirmCallback` are amqplib internals (0.10); a channel
 * without them, or options this builder does not cover (CC, BCC), go through `publish` as before.
 */
import type { Channel, ConfirmChannel, Options } from 'amqplib';

/** The basic.publish method fields and basic properties in one object, as amqplib's Args.publish returns them. */
export interface PublishFields {
  readonly exchange: string;
  readonly routingKey: string;
  readonly mandatory: boolean;
  readonly immediate: false;
  readonly ticket: undefined;
  readonly contentType: string | undefined;
  readonly contentEncoding: string | undefined;
  readonly headers: Readonly<Record<string, unknown>>;
  readonly deliveryMode: number | undefined;
  readonly priority: number | undefined;
  readonly correlationId: string | undefined;
  readonly replyTo: string | undefined;
  readonly expiration: string | undefined;
  readonly messageId: string | undefined;
  readonly timestamp: number | undefined;
  readonly type: string | undefined;
  readonly userId: string | undefined;
  readonly appId: string | undefined;
  readonly clusterId: undefined;
}

interface ChannelInternals {
  sendMessage?: (fields: PublishFields, properties: PublishFields, content: Buffer) => boolean;
  pushConfirmCallback?: (cb: (err: unknown) => void) => void;
}

/** Delivery mode as amqplib derives it: `persistent` first, then a numeric or truthy `deliveryMode`. */
function deliveryModeOf(options: Options.Publish): number | undefined {
  if (options.persistent !== undefined) return options.persistent ? 2 : 1;
  if (typeof options.deliveryMode === 'number') return options.deliveryMode;
  return options.deliveryMode ? 2 : undefined;
}

/**
 * What amqplib's Args.publish returns for these arguments, except that `headers` is `options.headers`
 * itself (an empty table when there are none, as amqplib sends). undefined for options it would
 * merge into the headers (CC, BCC): those go through amqplib.
 */
export function publishFields(exchange: string, routingKey: string, options: Options.Publish): PublishFields | undefined {
  if (options.CC !== undefined || options.BCC !== undefined) return undefined;
  const { expiration } = options;
  return {
    exchange,
    routingKey,
    mandatory: !!options.mandatory,
    immediate: false,
    ticket: undefined,
    contentType: options.contentType,
    contentEncoding: options.contentEncoding,
    headers: (options.headers as Record<string, unknown> | undefined) ?? {},
    deliveryMode: deliveryModeOf(options),
    priority: options.priority,
    correlationId: options.correlationId,
    replyTo: options.replyTo,
    expiration: expiration === undefined ? undefined : String(expiration),
    messageId: options.messageId,
    timestamp: options.timestamp,
    type: options.type,
    userId: options.userId,
    appId: options.appId,
    clusterId: undefined,
  };
}

const FOR_PUBLISH = ['sendMessage'] as const;
const FOR_CONFIRMED_PUBLISH = ['sendMessage', 'pushConfirmCallback'] as const;

/** The channel's internals when it has all of `needed`, else undefined (publish through amqplib). */
function internalsOf(ch: Channel, needed: readonly (keyof ChannelInternals)[]): Required<ChannelInternals> | undefined {
  const internals = ch as unknown as ChannelInternals;
  return needed.every((name) => typeof internals[name] === 'function') ? (internals as Required<ChannelInternals>) : undefined;
}

/** `ch.publish(...)`: false when the channel's buffer is full (wait for 'drain'). */
export function publish(ch: Channel, exchange: string, routingKey: string, content: Buffer, options: Options.Publish): boolean {
  const internals = internalsOf(ch, FOR_PUBLISH);
  const fields = internals && publishFields(exchange, routingKey, options);
  if (fields === undefined) return ch.publish(exchange, routingKey, content, options);
  return internals!.sendMessage(fields, fields, content);
}

/**
 * `ch.publish(..., cb)` on a confirm channel: `cb` gets the broker's confirm (null) or nack. As in
 * amqplib the callback is counted first, so a publish that fails while encoding leaves the
 * channel's confirm numbering one ahead (the caller retires the channel).
 */
export function publishConfirmed(ch: ConfirmChannel, exchange: string, routingKey: string, content: Buffer, options: Options.Publish, cb: (err: unknown) => void): boolean {
  const internals = internalsOf(ch, FOR_CONFIRMED_PUBLISH);
  const fields = internals && publishFields(exchange, routingKey, options);
  if (fields === undefined) return ch.publish(exchange, routingKey, content, options, cb);
  internals!.pushConfirmCallback(cb);
  return internals!.sendMessage(fields, fields, content);
}
