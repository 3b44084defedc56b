/**
 * The official CloudEvents JS SDK ⇄ Switchyard over SQS (shared assertions in
 * @switchyard/conformance/cloudevents). SQS has no CloudEvents binding: the plain client packs the
 * SDK's HTTP headers by the README's rule (the main attributes as String attributes, the rest as
 * JSON in switchyard-headers), since an SDK event with extensions has more than 10 attributes.
 */
import { afterAll } from 'vitest';
import { GetQueueUrlCommand, type MessageAttributeValue, ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { type CloudEvent, HTTP } from 'cloudevents';
import { type Bus, createBus, silentLogger } from '@switchyard/core';
import { describeCloudEventsInterop } from '@switchyard/conformance/cloudevents';
import { QueueNames } from '../src/names.js';
import { HEADERS_ATTRIBUTE, INDIVIDUAL_ATTRIBUTES } from '../src/wire.js';
import { deleteQueues, plainClient, testUrl } from './helpers.js';

const { url, prefix } = testUrl();
const names = new QueueNames(prefix, false);
const client = plainClient();
const buses: Bus[] = [];

afterAll(async () => {
  await Promise.allSettled(buses.map((b) => b.close({ drainTimeoutMs: 1000 })));
  await deleteQueues(prefix);
  client.destroy();
});

async function bus(service: string): Promise<Bus> {
  const b = await createBus({ url, service, logger: silentLogger });
  buses.push(b);
  return b;
}

const queueUrl = async (topic: string, group: string) => (await client.send(new GetQueueUrlCommand({ QueueName: names.groupQueue(topic, group) }))).QueueUrl!;

describeCloudEventsInterop({
  name: 'sqs',
  bus,
  async sendWithSdk(topic, event, mode, group) {
    const { headers, body } = mode === 'binary' ? HTTP.binary(event) : HTTP.structured(event);
    const attributes: Record<string, MessageAttributeValue> = {};
    const packed: Record<string, string> = {};
    for (const [name, value] of Object.entries(headers)) {
      if (value === undefined) continue;
      if (INDIVIDUAL_ATTRIBUTES.includes(name)) attributes[name] = { DataType: 'String', StringValue: String(value) };
      else packed[name] = String(value);
    }
    if (Object.keys(packed).length > 0) attributes[HEADERS_ATTRIBUTE] = { DataType: 'String', StringValue: JSON.stringify(packed) };
    await client.send(new SendMessageCommand({ QueueUrl: await queueUrl(topic, group), MessageBody: String(body), MessageAttributes: attributes }));
  },
  async receiveWithSdk(topic) {
    const declaring = await bus('ce-plain-declarer');
    await declaring.pull(topic, { group: 'plain', waitMs: 0 }); // declares the plain consumer's group queue
    const queue = await queueUrl(topic, 'plain');
    return async () => {
      for (;;) {
        const { Messages = [] } = await client.send(new ReceiveMessageCommand({ QueueUrl: queue, WaitTimeSeconds: 5, MessageAttributeNames: ['All'] }));
        const m = Messages[0];
        if (m === undefined) continue;
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(m.MessageAttributes ?? {})) {
          if (name === HEADERS_ATTRIBUTE) Object.assign(headers, JSON.parse(value.StringValue!) as Record<string, string>);
          else if (value.StringValue !== undefined) headers[name] = value.StringValue;
        }
        return HTTP.toEvent({ headers, body: m.Body }) as CloudEvent<unknown>;
      }
    };
  },
});
