/** The official CloudEvents JS SDK (its Kafka binding) ⇄ Switchyard over Kafka (shared assertions in @switchyard/conformance/cloudevents). */
import { randomUUID } from 'node:crypto';
import { type CloudEvent, Kafka as CloudEventsKafka, type KafkaMessage } from 'cloudevents';
import { Kafka, logLevel, type IHeaders } from 'kafkajs';
import { createBus, silentLogger } from '@switchyard/core';
import { cleanupAfterEach } from '@switchyard/conformance';
import { describeCloudEventsInterop } from '@switchyard/conformance/cloudevents';
import { brokersOf, KAFKA_URL } from './helpers.js';

const kafka = new Kafka({ clientId: 'cloudevents-sdk-test', brokers: brokersOf(KAFKA_URL), logLevel: logLevel.NOTHING });
const cleanups = cleanupAfterEach();

describeCloudEventsInterop({
  name: 'kafka',
  async bus(service) {
    const bus = await createBus({ url: KAFKA_URL, service, logger: silentLogger });
    cleanups.push(() => bus.close({ drainTimeoutMs: 1000 }));
    return bus;
  },
  async sendWithSdk(topic, event, mode) {
    const message = mode === 'binary' ? CloudEventsKafka.binary(event) : CloudEventsKafka.structured(event);
    const headers: IHeaders = {};
    for (const [name, value] of Object.entries(message.headers)) if (value !== undefined) headers[name] = String(value);
    // The SDK leaves a binary event's JSON data unserialised; the plain client sends its JSON text.
    const value = message.value === undefined ? null : typeof message.value === 'string' ? message.value : JSON.stringify(message.value);
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    cleanups.push(() => producer.disconnect());
    await producer.send({ topic, acks: -1, messages: [{ key: message.key ?? null, value, headers }] });
  },
  async receiveWithSdk(topic) {
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic }], waitForLeaders: true });
    await admin.disconnect();
    const consumer = kafka.consumer({ groupId: `plain-${randomUUID().slice(0, 8)}`, maxWaitTimeInMs: 250 });
    await consumer.connect();
    cleanups.push(() => consumer.disconnect());
    await consumer.subscribe({ topic, fromBeginning: true });
    let decoded: ((event: CloudEvent<unknown> | Error) => void) | undefined;
    const first = new Promise<CloudEvent<unknown> | Error>((resolve) => (decoded = resolve));
    await consumer.run({
      eachMessage: async ({ message }) => {
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(message.headers ?? {})) if (value !== undefined) headers[name] = String(value);
        try {
          const raw: KafkaMessage<string | undefined> = { headers, key: message.key?.toString() ?? '', value: message.value?.toString(), body: undefined };
          decoded?.(CloudEventsKafka.toEvent(raw) as CloudEvent<unknown>);
        } catch (err) {
          decoded?.(err as Error);
        }
      },
    });
    return async () => {
      const event = await first;
      if (event instanceof Error) throw event;
      return event;
    };
  },
});
