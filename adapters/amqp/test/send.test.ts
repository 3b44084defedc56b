/**
 * Publishing without amqplib's Args.publish (src/send.ts): the header table reaches amqplib's
 * encoder as the plain object the adapter built, not as the prototype of an empty one (which made
 * V8 encode it about twice as slowly), and the frames it encodes are byte for byte amqplib's own.
 */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type { Options } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { silentLogger, type WireMessage } from '@switchyard/core';
import { cleanupAfterEach, Collector } from '@switchyard/conformance';
import { createTransport } from '../src/index.js';
import { publishFields } from '../src/send.js';
import type { AmqpTransport } from '../src/transport.js';
import { urlWith } from './helpers.js';

const cleanups = cleanupAfterEach();

/** amqplib's own argument builder and frame encoders (internals of amqplib 0.10, as src/send.ts relies on). */
const require = createRequire(import.meta.url);
const amqplibDir = `${dirname(require.resolve('amqplib/package.json'))}/lib/`;
const Args = require(`${amqplibDir}api_args.js`) as { publish(exchange: string, routingKey: string, options?: Options.Publish): Record<string, unknown> };
const defs = require(`${amqplibDir}defs.js`) as {
  BasicPublish: number;
  BasicProperties: number;
  encodeMethod(id: number, channel: number, fields: unknown): Buffer;
  encodeProperties(id: number, channel: number, size: number, fields: unknown): Buffer;
};

async function transport(): Promise<AmqpTransport> {
  const t = (await createTransport(new URL(urlWith({ queueExpiresMs: '600000' })), { service: `send-${randomUUID().slice(0, 6)}`, logger: silentLogger })) as AmqpTransport;
  await t.connect();
  cleanups.push(() => t.close());
  return t;
}

/** The properties of every message the connection encodes from now on (amqplib's Connection#sendMessage). */
function recordProperties(t: AmqpTransport): Record<string, unknown>[] {
  const connection = t.link.conn!.connection as unknown as { sendMessage: (...args: unknown[]) => unknown };
  const seen: Record<string, unknown>[] = [];
  const sendMessage = connection.sendMessage;
  connection.sendMessage = function (this: unknown, ...args: unknown[]) {
    seen.push(args[4] as Record<string, unknown>);
    return sendMessage.apply(this, args);
  };
  return seen;
}

const message = (text: string): WireMessage => ({
  body: new TextEncoder().encode(text),
  headers: { 'ce-id': randomUUID(), 'ce-type': 'send.test', 'ce-source': 'send-test', 'ce-specversion': '1.0', 'content-type': 'text/plain', 'x-user': 'u' },
});

const encoded = (fields: unknown, size: number) => Buffer.concat([defs.encodeMethod(defs.BasicPublish, 1, fields), defs.encodeProperties(defs.BasicProperties, 1, size, fields)]);

describe('amqp publishing without Args.publish', () => {
  it('a confirmed publish and a reply hand amqplib the header table as a plain object of their own', async () => {
    const t = await transport();
    const got = new Collector<string>();
    const inbox = await t.createInbox((m) => got.push(Buffer.from(m.body).toString('utf8')));
    cleanups.push(() => inbox.close());
    const topic = `send.plain.${randomUUID().slice(0, 8)}`;
    await t.publish({ topic, message: message('warm') }); // topology declared, publisher channel open
    const seen = recordProperties(t);
    await t.publish({ topic, message: message('published') });
    await t.sendToInbox(inbox.address, message('replied'));
    expect(await got.waitFor(1)).toEqual(['replied']);
    expect(seen).toHaveLength(2);
    for (const props of seen) {
      const headers = props['headers'] as Record<string, unknown>;
      expect(Object.getPrototypeOf(headers)).toBe(Object.prototype);
      expect(Object.keys(headers)).toEqual(expect.arrayContaining(['cloudEvents_id', 'cloudEvents_type', 'cloudEvents_source', 'x-user']));
    }
    expect(seen.map((props) => props['deliveryMode'])).toEqual([2, 1]); // requests persistent, replies not
  });

  it('encodes the same basic.publish and properties frames as amqplib for the options it is given', () => {
    const headers = { cloudEvents_id: 'a-1', cloudEvents_type: 'ü.topic', 'x-n': '1', 'x-gone': undefined };
    const cases: Options.Publish[] = [
      {},
      { persistent: true, headers, contentType: 'application/json', messageId: 'a-1', correlationId: 'c-1', timestamp: 1_795_504_583 },
      { persistent: false, headers, replyTo: 'amq.rabbitmq.reply-to.x', mandatory: true },
      { deliveryMode: 2, expiration: 1500, priority: 3, type: 't', userId: 'guest', appId: 'app', contentEncoding: 'gzip' },
      { deliveryMode: true, expiration: '250', headers: {} },
    ];
    for (const options of cases) {
      const ours = publishFields('switchyard.topics', 'some.topic', options);
      expect(ours).toBeDefined();
      expect(encoded(ours, 42)).toEqual(encoded(Args.publish('switchyard.topics', 'some.topic', options), 42));
    }
  });

  it('leaves CC and BCC, which amqplib merges into the headers, to amqplib', () => {
    expect(publishFields('x', 'k', { CC: 'other' })).toBeUndefined();
    expect(publishFields('x', 'k', { BCC: ['a', 'b'] })).toBeUndefined();
  });
});
