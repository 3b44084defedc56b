/**
 * CloudEvents interop with the official JavaScript SDK (`cloudevents` on npm), one set of
 * assertions for every broker:
 *
 *   import { describeCloudEventsInterop } from '@switchyard/conformance/cloudevents';
 *   describeCloudEventsInterop({ name: 'rabbitmq', bus, sendWithSdk, receiveWithSdk });
 *
 * The broker's test supplies only the plain-client side: encode an SDK event with the SDK's
 * binding (HTTP headers mapped to the broker's binding, or the SDK's Kafka binding) and send it,
 * and decode a raw message back into an SDK event (HTTP.toEvent / Kafka.toEvent).
 */
import { CloudEvent } from 'cloudevents';
import { describe, expect, it } from 'vitest';
import type { Bus, Message } from '@switchyard/core';
import { Collector } from './harness.js';

export type CloudEventsMode = 'binary' | 'structured';

export interface CloudEventsInteropOptions {
  readonly name: string;
  /** A bus on the broker under test; the caller closes it (e.g. with cleanupAfterEach). */
  bus(service: string): Promise<Bus>;
  /**
   * Encode `event` with the SDK in `mode` and send it to `topic` with the broker's plain client.
   * `group` is the subscribing group (where a plain producer addresses a group's queue, as on SQS).
   */
  sendWithSdk(topic: string, event: CloudEvent<unknown>, mode: CloudEventsMode, group: string): Promise<void>;
  /**
   * Start a plain consumer of `topic` (called before anything is published to it); the returned
   * function resolves with the first message, decoded by the SDK from its raw headers and body.
   */
  receiveWithSdk(topic: string): Promise<() => Promise<CloudEvent<unknown>>>;
  /** Modes the binding under test has a plain-client form for. Default: both. */
  readonly modes?: readonly CloudEventsMode[];
}

let counter = 0;
const unique = (label: string) => `ce.${label}.${process.pid}.${Date.now().toString(36)}.${++counter}`;

/** What every case sends: every optional attribute and three extensions (a string, an integer, a boolean). */
function sdkEvent(topic: string, id: string, data: unknown): CloudEvent<unknown> {
  return new CloudEvent<unknown>({
    specversion: '1.0',
    id,
    source: 'https://example.com/sdk-producer',
    type: topic,
    subject: 'order/o-1',
    time: '2024-05-06T07:08:09.123Z',
    dataschema: 'https://example.com/schemas/order.json',
    datacontenttype: 'application/json',
    data,
    tenant: 'acme',
    priority: 3,
    urgent: true,
  });
}

export function describeCloudEventsInterop(options: CloudEventsInteropOptions): void {
  const modes = options.modes ?? ['binary', 'structured'];

  describe(`CloudEvents SDK interop: ${options.name}`, () => {
    for (const mode of modes) {
      it(`an SDK event sent in ${mode} mode reaches a handler with every attribute`, async () => {
        const topic = unique(`in-${mode}`);
        const bus = await options.bus(unique('svc').replaceAll('.', '-'));
        const got = new Collector<Message>();
        const { group } = await bus.subscribe(topic, (m) => got.push(m));
        const id = `sdk-${mode}-${++counter}`;
        await options.sendWithSdk(topic, sdkEvent(topic, id, { orderId: 'o-1', total: 12.5 }), mode, group);
        const [m] = await got.waitFor(1);
        expect(m!.id).toBe(id);
        expect(m!.body).toEqual({ orderId: 'o-1', total: 12.5 });
        expect(m!.contentType).toBe('application/json');
        expect(m!.timestamp.toISOString()).toBe('2024-05-06T07:08:09.123Z');
        expect(m!.cloudEvent).toEqual({
          specversion: '1.0',
          source: 'https://example.com/sdk-producer',
          type: topic,
          subject: 'order/o-1',
          time: '2024-05-06T07:08:09.123Z',
          dataschema: 'https://example.com/schemas/order.json',
          datacontenttype: 'application/json',
          extensions: { tenant: 'acme', priority: '3', urgent: 'true' },
        });
      });
    }

    it('a Switchyard publish decodes with the SDK to the same id, source, type, time, data and extensions', async () => {
      const topic = unique('out');
      const service = unique('svc').replaceAll('.', '-');
      const receive = await options.receiveWithSdk(topic);
      const bus = await options.bus(service);
      const sent = Date.now();
      const { id } = await bus.publish(
        topic,
        { orderId: 'o-2', lines: [1, 2] },
        { subject: 'order/o-2', dataschema: 'https://example.com/schemas/order.json', extensions: { tenant: 'acme', priority: 7, urgent: false } },
      );
      const event = await receive();
      expect(event.id).toBe(id);
      expect(event.specversion).toBe('1.0');
      expect(event.source).toBe(service);
      expect(event.type).toBe(topic);
      expect(event.subject).toBe('order/o-2');
      expect(event.dataschema).toBe('https://example.com/schemas/order.json');
      expect(event.datacontenttype).toBe('application/json');
      expect(event.data).toEqual({ orderId: 'o-2', lines: [1, 2] });
      expect(Math.abs(Date.parse(event.time!) - sent)).toBeLessThan(60_000);
      expect({ tenant: event['tenant'], priority: event['priority'], urgent: event['urgent'], correlationid: event['correlationid'] }).toEqual({
        tenant: 'acme',
        priority: '7',
        urgent: 'false',
        correlationid: id,
      });
    });
  });
}
