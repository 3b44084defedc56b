/**
 * The `ctx` a handler receives. One is made per delivery, so it is a plain class: its publish and
 * request functions, and the ids they pass on, are made only when the handler first reads them —
 * most handlers never do, and two closures plus two id checks per message showed up as garbage
 * collection time in the memory:// profile (npm run bench).
 */
import type { Context } from '@opentelemetry/api';
import { isValidIdentifier } from './limits.js';
import type { HandlerContext, IdempotencyClaim, Message, PublishOptions, PublishResult, RequestOptions } from './types.js';

/** What a send from inside a handler carries over from the message it handles. */
export interface Inherited {
  readonly correlationId?: string;
  readonly causationId?: string;
  readonly otel?: Context;
}

/** The bus's sends, taking the inherited ids and trace context (one per bus, shared by every ctx). */
export interface ContextSender {
  publish(topic: string, body: unknown, options: PublishOptions, inherited: Inherited): Promise<PublishResult>;
  request(topic: string, body: unknown, options: RequestOptions, inherited: Inherited): Promise<unknown>;
}

export class MessageContext implements HandlerContext {
  declare readonly idempotency?: IdempotencyClaim;
  readonly #sender: ContextSender;
  readonly #msg: Message;
  readonly #otel: Context | undefined;
  #inherited: Inherited | undefined;
  #publish: HandlerContext['publish'] | undefined;
  #request: HandlerContext['request'] | undefined;

  constructor(
    sender: ContextSender,
    msg: Message,
    readonly attempt: number,
    readonly signal: AbortSignal,
    otel: Context | undefined,
    claim: IdempotencyClaim | undefined,
  ) {
    this.#sender = sender;
    this.#msg = msg;
    this.#otel = otel;
    // Only present with idempotency, as the HandlerContext type says.
    if (claim !== undefined) Object.defineProperty(this, 'idempotency', { value: claim, enumerable: true });
  }

  /** Publish with this message's correlation id, causation id and trace context. Stays bound when destructured. */
  get publish(): HandlerContext['publish'] {
    this.#publish ??= ((topic: string, body: unknown, options: PublishOptions = {}) =>
      this.#sender.publish(topic, body, options, this.#inheritedOnce())) as HandlerContext['publish'];
    return this.#publish;
  }

  /** Request with this message's correlation id and trace context. Stays bound when destructured. */
  get request(): HandlerContext['request'] {
    this.#request ??= ((topic: string, body: unknown, options: RequestOptions = {}) =>
      this.#sender.request(topic, body, options, this.#inheritedOnce())) as HandlerContext['request'];
    return this.#request;
  }

  /** Ids from a foreign producer may break our limits: pass on only what could be sent. */
  #inheritedOnce(): Inherited {
    if (this.#inherited !== undefined) return this.#inherited;
    const msg = this.#msg;
    const inherited: { correlationId?: string; causationId?: string; otel?: Context } = {};
    if (isValidIdentifier(msg.correlationId)) inherited.correlationId = msg.correlationId;
    if (isValidIdentifier(msg.id)) inherited.causationId = msg.id;
    if (this.#otel !== undefined) inherited.otel = this.#otel;
    this.#inherited = inherited;
    return inherited;
  }
}
