/**
 * A Switchyard contract as an AsyncAPI 3.0 document: a channel per topic (address = topic name),
 * a send and a receive operation per event topic, a request operation with its reply for
 * request/response topics, and messages whose payload is the JSON Schema of the topic's schema
 * and whose headers are the CloudEvents binary-mode attributes Switchyard puts on every message.
 */
import type { Contract } from '@switchyard/core';
import { redactUrl } from '@switchyard/core/spi';
import { toJsonSchema, type JsonSchema } from './json-schema.js';

export interface AsyncApiOptions {
  title?: string;
  version?: string;
  description?: string;
  /** A broker URL: adds a server and the bindings that say how topics map onto that broker. */
  url?: string;
  /** Called for each schema that has no JSON Schema (the payload is then left open). */
  onUnconvertible?: (topic: string, reason: string) => void;
}

type Doc = Record<string, unknown>;

const CLOUD_EVENTS_HEADERS = 'CloudEventsHeaders';

/** Every message carries these (CloudEvents binary mode in the broker's native headers; see the core README). */
const cloudEventsHeaders: JsonSchema = {
  type: 'object',
  description:
    "CloudEvents 1.0 attributes in binary mode (ce-* in the native headers, per the AMQP / Kafka / NATS bindings), W3C trace context and your own headers. On SQS and Pub/Sub they are packed by the adapter's documented rule.",
  properties: {
    'ce-id': { type: 'string', description: 'Message id; reused ids let idempotent handlers drop duplicates.' },
    'ce-type': { type: 'string', description: 'The topic the message was published to.' },
    'ce-source': { type: 'string', description: 'The publishing service (createBus service).' },
    'ce-specversion': { type: 'string', const: '1.0' },
    'ce-time': { type: 'string', format: 'date-time' },
    'ce-correlationid': { type: 'string', description: 'Carried from message to message by ctx.publish; defaults to the id.' },
    'ce-causationid': { type: 'string', description: 'Id of the message whose handler published this one.' },
    'content-type': { type: 'string', description: 'application/json for objects, text/plain for strings, application/octet-stream for bytes.' },
    traceparent: { type: 'string', description: 'W3C trace context.' },
    tracestate: { type: 'string' },
  },
  required: ['ce-id', 'ce-type', 'ce-source', 'ce-specversion'],
  additionalProperties: { type: 'string' },
};

const replyHeaders: JsonSchema = {
  type: 'object',
  properties: {
    ...(cloudEventsHeaders['properties'] as JsonSchema),
    'ce-inreplyto': { type: 'string', description: 'The id of the request this answers.' },
    'ce-replystatus': { type: 'string', enum: ['ok', 'error'], description: 'error: the reply handler threw (the requester gets RemoteHandlerError).' },
  },
  required: ['ce-id', 'ce-specversion', 'ce-inreplyto'],
  additionalProperties: { type: 'string' },
};

export function toAsyncApi(contract: Contract, options: AsyncApiOptions = {}): Doc {
  const channels: Doc = {};
  const operations: Doc = {};
  const messages: Doc = {};
  const server = options.url === undefined ? undefined : serverFor(options.url);

  for (const [topic, spec] of Object.entries(contract).sort(([a], [b]) => a.localeCompare(b))) {
    const id = identifier(topic);
    const isRequest = typeof spec === 'object' && spec !== null && 'request' in spec && 'response' in spec && !('safeParse' in spec);
    const channelRef = { $ref: `#/channels/${id}` };
    const channel: Doc = { address: topic, title: topic };
    if (server !== undefined) {
      channel['servers'] = [{ $ref: '#/servers/broker' }];
      const bindings = channelBindings(server.protocol, topic);
      if (bindings !== undefined) channel['bindings'] = bindings;
    }
    if (!isRequest) {
      messages[id] = message(topic, `${topic}`, spec, cloudEventsHeaders, options);
      channel['messages'] = { [id]: { $ref: `#/components/messages/${id}` } };
      channel['description'] = `Events on "${topic}": every consumer group gets its own copy; a handler that keeps failing sends the message to "${topic}.dlq".`;
      channels[id] = channel;
      operations[`${id}.send`] = { action: 'send', channel: channelRef, title: `Publish ${topic}`, messages: [{ $ref: `#/channels/${id}/messages/${id}` }] };
      operations[`${id}.receive`] = {
        action: 'receive',
        channel: channelRef,
        title: `Subscribe to ${topic}`,
        summary: 'Retried with backoff, then dead-lettered to the dead-letter channel with x-switchyard-* headers.',
        messages: [{ $ref: `#/channels/${id}/messages/${id}` }],
      };
      channels[`${id}.dlq`] = {
        address: `${topic}.dlq`,
        title: `${topic}.dlq`,
        description: `Dead letters of "${topic}": body and headers intact plus x-switchyard-error, -attempts, -original-topic, -group and -failed-at.`,
        messages: { [id]: { $ref: `#/components/messages/${id}` } },
        ...(server === undefined ? {} : { servers: [{ $ref: '#/servers/broker' }] }),
      };
    } else {
      const requestId = `${id}.request`;
      const responseId = `${id}.response`;
      const { request, response } = spec as { request: unknown; response: unknown };
      messages[requestId] = message(topic, `${topic} request`, request, cloudEventsHeaders, options);
      messages[responseId] = message(topic, `${topic} response`, response, replyHeaders, options);
      channel['messages'] = { [requestId]: { $ref: `#/components/messages/${requestId}` } };
      channel['description'] = `Requests on "${topic}" (bus.request / bus.reply): one replier in a group answers each.`;
      channels[id] = channel;
      channels[`${id}.reply`] = {
        address: null,
        title: `${topic} replies`,
        description: "The requester's private reply address, taken from the request's ce-replyto header.",
        messages: { [responseId]: { $ref: `#/components/messages/${responseId}` } },
      };
      const reply = {
        address: { location: '$message.header#/ce-replyto' },
        channel: { $ref: `#/channels/${id}.reply` },
        messages: [{ $ref: `#/channels/${id}.reply/messages/${responseId}` }],
      };
      operations[`${id}.request`] = { action: 'send', channel: channelRef, title: `Request ${topic}`, messages: [{ $ref: `#/channels/${id}/messages/${requestId}` }], reply };
      operations[`${id}.reply`] = { action: 'receive', channel: channelRef, title: `Reply to ${topic}`, messages: [{ $ref: `#/channels/${id}/messages/${requestId}` }], reply };
    }
  }

  const info: Doc = { title: options.title ?? 'Switchyard contract', version: options.version ?? '1.0.0' };
  info['description'] = options.description ?? 'Generated by `switchyard asyncapi` from a defineContract export.';
  const doc: Doc = { asyncapi: '3.0.0', info, defaultContentType: 'application/json' };
  if (server !== undefined) doc['servers'] = { broker: server.object };
  doc['channels'] = channels;
  doc['operations'] = operations;
  doc['components'] = { messages, schemas: { [CLOUD_EVENTS_HEADERS]: cloudEventsHeaders } };
  return doc;
}

function message(topic: string, title: string, schema: unknown, headers: JsonSchema, options: AsyncApiOptions): Doc {
  const converted = toJsonSchema(schema);
  if (!converted.ok) options.onUnconvertible?.(topic, converted.reason);
  return {
    name: title.replace(/\s+/g, '-'),
    title,
    contentType: 'application/json',
    headers,
    correlationId: { description: 'Kept across the messages one request or event causes.', location: '$message.header#/ce-correlationid' },
    payload: converted.ok ? converted.schema : { description: `No JSON Schema: ${converted.reason}.` },
  };
}

interface Server {
  protocol: string;
  object: Doc;
}

/** The broker a URL points at, without credentials or options (secrets may ride in them). */
function serverFor(url: string): Server {
  const parsed = new URL(url);
  const scheme = parsed.protocol.replace(/:$/, '');
  const protocols: Record<string, string> = { amqp: 'amqp', amqps: 'amqps', kafka: 'kafka', nats: 'nats', sqs: 'sqs', gcppubsub: 'googlepubsub', memory: 'memory' };
  const protocol = protocols[scheme] ?? scheme;
  const host = parsed.host || parsed.hostname || 'localhost';
  const object: Doc = { host, protocol, description: `Switchyard URL ${redactUrl(`${parsed.protocol}//${parsed.host}${parsed.pathname}`)}` };
  if (protocol === 'amqp' || protocol === 'amqps') object['protocolVersion'] = '0.9.1';
  return { protocol, object };
}

/** Where a topic lives on the broker, for the protocols AsyncAPI has bindings for (default adapter settings). */
function channelBindings(protocol: string, topic: string): Doc | undefined {
  switch (protocol) {
    case 'amqp':
    case 'amqps':
      return { amqp: { is: 'routingKey', exchange: { name: 'switchyard.topics', type: 'direct', durable: true, autoDelete: false, vhost: '/' }, bindingVersion: '0.3.0' } };
    case 'kafka':
      return { kafka: { topic, bindingVersion: '0.5.0' } };
    default:
      return undefined;
  }
}

/** A topic name as a component key (^[a-zA-Z0-9.\-_]+$): portable topic names already are one. */
function identifier(topic: string): string {
  return topic.replace(/[^a-zA-Z0-9.\-_]/g, '_');
}
