/**
 * Request/reply on top of any transport. Each bus has one private inbox: native where the broker
 * has one (AMQP direct reply-to, NATS inboxes), else a private reply topic with a private group.
 * Requests carry the inbox address in `ce-replyto`; replies carry the request id in `ce-inreplyto`.
 */
import { randomUUID } from 'node:crypto';
import { Attr, decodeBody, encodeBody, isoNow, ReplyAttr, SPEC_VERSION } from './codec.js';
import { validateBody } from './contract.js';
import { ClosedError, errorMessage, RemoteHandlerError, RequestTimeoutError, SwitchyardError } from './errors.js';
import { DEFAULT_RETRY } from './retry.js';
import type { GroupPolicy, Inbox, Transport, WireMessage } from './spi.js';
import type { StandardSchemaV1 } from './standard-schema.js';
import { telemetryTarget, traceReply } from './telemetry.js';
import type { Logger } from './types.js';

/**
 * One request waiting for its reply: settled once by the reply, its timeout, an abort or close.
 * A class with methods rather than a closure per outcome: a request holds one object, not five.
 */
class Pending {
  private readonly timer: NodeJS.Timeout;
  private done = false;

  constructor(
    private readonly owner: Map<string, Pending>,
    private readonly requestId: string,
    readonly topic: string,
    readonly schema: StandardSchemaV1 | undefined,
    private readonly settle: (ok: boolean, value: unknown) => void,
    timeoutMs: number,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.timer = setTimeout(() => this.reject(new RequestTimeoutError(topic, timeoutMs)), timeoutMs);
    signal?.addEventListener('abort', this, { once: true });
  }

  /** The abort listener (an EventListener object, so no closure is made for it). */
  handleEvent(): void {
    const reason: unknown = this.signal?.reason;
    this.reject(reason instanceof Error ? reason : new SwitchyardError('ERR_ABORTED', `Request on "${this.topic}" was aborted.`));
  }

  resolve(value: unknown): void {
    if (this.finish()) this.settle(true, value);
  }

  reject(error: unknown): void {
    if (this.finish()) this.settle(false, error);
  }

  private finish(): boolean {
    if (this.done) return false;
    this.done = true;
    clearTimeout(this.timer);
    this.signal?.removeEventListener('abort', this);
    this.owner.delete(this.requestId);
    return true;
  }
}

export class Requester {
  private inbox: Promise<Inbox> | undefined;
  /** The inbox's address once it is open: requests after the first need no await for it. */
  private openAddress: string | undefined;
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly transport: Transport,
    private readonly busId: string,
    private readonly logger: Logger,
  ) {}

  /** The inbox address: at once when the inbox is open, else once it is (created on first use). */
  address(): string | Promise<string> {
    if (this.openAddress !== undefined) return this.openAddress;
    this.inbox ??= this.openInbox().then(
      (inbox) => {
        this.openAddress = inbox.address;
        return inbox;
      },
      (err: unknown) => {
        this.inbox = undefined;
        throw err;
      },
    );
    return this.inbox.then((inbox) => inbox.address);
  }

  /**
   * Wait for the reply to `requestId`. Register before publishing so a fast reply is never missed;
   * after a timeout or abort the entry is gone, so a late reply is dropped.
   */
  expect(requestId: string, topic: string, schema: StandardSchemaV1 | undefined, timeoutMs: number, signal: AbortSignal | undefined): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const pending = new Pending(this.pending, requestId, topic, schema, (ok, value) => (ok ? resolve(value) : reject(value)), timeoutMs, signal);
      this.pending.set(requestId, pending);
      if (signal?.aborted) pending.handleEvent();
    });
  }

  /** Forget a request whose publish failed. */
  cancel(requestId: string, error: unknown): void {
    this.pending.get(requestId)?.reject(error);
  }

  async close(): Promise<void> {
    for (const pending of [...this.pending.values()]) pending.reject(new ClosedError());
    const inbox = this.inbox;
    this.inbox = undefined;
    this.openAddress = undefined;
    if (inbox) await (await inbox.catch(() => undefined))?.close();
  }

  /** Whether the caller of `requestId` still waits (no reply, timeout, abort or close yet). */
  isWaiting(requestId: string): boolean {
    return this.pending.has(requestId);
  }

  /** A reply that came back another way than the inbox (Transport.requestDirect). */
  accept(wire: WireMessage): void {
    this.onReply(wire);
  }

  private readonly onReply = (wire: WireMessage): void => {
    const requestId = wire.headers[ReplyAttr.inReplyTo];
    const pending = requestId === undefined ? undefined : this.pending.get(requestId);
    if (pending === undefined) {
      this.logger.debug('Dropped a reply nobody waits for (late, or after a timeout)', { inReplyTo: requestId });
      return;
    }
    try {
      const body = decodeBody(wire.body, wire.headers[Attr.contentType]);
      if (wire.headers[ReplyAttr.status] === 'error') {
        const message = typeof body === 'object' && body !== null && 'message' in body ? String((body as { message: unknown }).message) : String(body);
        pending.reject(new RemoteHandlerError(pending.topic, message, wire.headers[ReplyAttr.errorCode]));
        return;
      }
      // An async schema's promise is adopted: its ValidationError reaches the requester the same way.
      pending.resolve(validateBody(pending.schema, body, `Reply on "${pending.topic}"`));
    } catch (err) {
      pending.reject(err);
    }
  };

  private async openInbox(): Promise<Inbox> {
    if (this.transport.createInbox && this.transport.capabilities.requestReply === 'native') {
      return this.transport.createInbox(this.onReply);
    }
    const topic = `switchyard.reply.${this.busId}`;
    const consumer = await this.transport.consume(topic, topic, { prefetch: 256, policy: REPLY_GROUP_POLICY }, (delivery) => {
      // Replies are ephemeral: acknowledge first, then route (a reply nobody waits for is dropped).
      delivery.ack().catch((err: unknown) => this.logger.warn('Acking a reply failed', { error: errorMessage(err) }));
      this.onReply(delivery.message);
    });
    return {
      address: topic,
      close: async () => {
        await consumer.stop();
        await consumer.close();
        // The reply topic is this bus's alone: remove it, or every bus ever opened leaves one behind.
        await this.transport
          .deleteGroup?.(topic, topic)
          .catch((err: unknown) => this.logger.warn('Removing the private reply topic failed; the broker keeps it until it expires', { topic, error: errorMessage(err) }));
      },
    };
  }
}

/** Reply topics: acked on arrival, never retried or dead-lettered, gone with the bus. */
const REPLY_GROUP_POLICY: GroupPolicy = { maxAttempts: 1, retry: { ...DEFAULT_RETRY, maxAttempts: 1 }, deadLetterTopic: false, concurrency: 256, ephemeral: true };

export interface ReplyEnvelope {
  readonly status: 'ok' | 'error';
  readonly body: Uint8Array;
  readonly contentType: string | undefined;
  readonly errorCode?: string;
}

export function okReply(result: unknown): ReplyEnvelope {
  const encoded = encodeBody(result);
  return { status: 'ok', body: encoded.bytes, contentType: encoded.contentType };
}

export function errorReply(error: unknown): ReplyEnvelope {
  const encoded = encodeBody({ message: errorMessage(error) });
  const code = error instanceof SwitchyardError ? error.code : undefined;
  return code === undefined
    ? { status: 'error', body: encoded.bytes, contentType: encoded.contentType }
    : { status: 'error', body: encoded.bytes, contentType: encoded.contentType, errorCode: code };
}

/** For idempotent replies: the envelope as a string the store can keep, and back. */
export function serializeReply(reply: ReplyEnvelope): string {
  return JSON.stringify({ s: reply.status, b: Buffer.from(reply.body).toString('base64'), c: reply.contentType, e: reply.errorCode });
}

export function deserializeReply(text: string): ReplyEnvelope {
  const raw = JSON.parse(text) as { s: 'ok' | 'error'; b: string; c?: string; e?: string };
  const base = { status: raw.s, body: new Uint8Array(Buffer.from(raw.b, 'base64')), contentType: raw.c };
  return raw.e === undefined ? base : { ...base, errorCode: raw.e };
}

/** Send a reply to the address a request named. */
export async function sendReply(transport: Transport, request: WireMessage, source: string, reply: ReplyEnvelope): Promise<void> {
  const address = request.headers[ReplyAttr.replyTo];
  const requestId = request.headers[Attr.id];
  if (address === undefined || requestId === undefined) return; // a plain publish to a reply topic: nobody to answer
  const headers: Record<string, string> = {
    [Attr.specversion]: SPEC_VERSION,
    [Attr.id]: randomUUID(),
    [Attr.type]: `${request.headers[Attr.type] ?? 'reply'}.reply`,
    [Attr.source]: source,
    [Attr.time]: isoNow(),
    [ReplyAttr.inReplyTo]: requestId,
    [ReplyAttr.status]: reply.status,
  };
  const correlationId = request.headers[Attr.correlationId];
  if (correlationId !== undefined) headers[Attr.correlationId] = correlationId;
  if (reply.contentType !== undefined) headers[Attr.contentType] = reply.contentType;
  if (reply.errorCode !== undefined) headers[ReplyAttr.errorCode] = reply.errorCode;
  const message = { body: reply.body, headers };
  await traceReply(telemetryTarget(transport), address, message, () =>
    transport.sendToInbox && transport.capabilities.requestReply === 'native' ? transport.sendToInbox(address, message) : transport.publish({ topic: address, message }),
  );
}
