/**
 * A bench run leaves nothing it declared on the broker. `switchyard bench <url>` is pointed at
 * users' own brokers, and what a run leaves slows the runs after it. Before this held, each run
 * left its Switchyard side's groups and dead-letter groups, and its Kafka topics: after the runs
 * of earlier development rounds the local RabbitMQ held 1,598 idle quorum queues (and kept
 * spending CPU on them) and Kafka 2,632 topics (enough for topic creation to fail in leader
 * elections). One repetition of three scenarios at a small scale per broker, then the Switchyard
 * transport says whether each group still exists, and Kafka's admin whether any topic of the run
 * is left.
 */
import { deadLetterTopicOf, silentLogger } from '@switchyard/core';
import { createTransport } from '@switchyard/core/spi';
import { BROKERS, type BrokerName, runBench } from '@switchyard/bench';
import { Kafka, logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';

const SCENARIOS = ['publish-seq', 'e2e-c1', 'rr-seq'];
const BROKERS_UNDER_TEST: BrokerName[] = ['amqp', 'kafka', 'nats', 'sqs', 'pubsub'];

function urlOf(broker: BrokerName): string {
  const spec = BROKERS[broker];
  return (spec.env ? process.env[spec.env] : undefined) ?? spec.url;
}

async function kafkaTopicsNaming(url: string, run: string): Promise<string[]> {
  const admin = new Kafka({ brokers: new URL(url).host.split(','), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    return (await admin.listTopics()).filter((topic) => topic.includes(`.${run}.`));
  } finally {
    await admin.disconnect();
  }
}

describe.sequential('a bench run leaves nothing behind', () => {
  for (const broker of BROKERS_UNDER_TEST) {
    it(`${broker}: no group (nor dead-letter group) of the Switchyard side is left${broker === 'kafka' ? ', nor any topic of the run' : ''}`, async () => {
      const url = urlOf(broker);
      const lines: string[] = [];
      const report = await runBench({ url, reps: 1, scale: 0.02, only: SCENARIOS, log: (line) => lines.push(line) });
      const entry = report.brokers[0];
      expect(entry?.error, lines.join('\n')).toBeUndefined();
      expect(entry?.results.map((r) => r.key)).toEqual(SCENARIOS);
      expect(lines.filter((line) => line.includes(' failed — '))).toEqual([]);

      const service = `bench-${report.run}`;
      const transport = await createTransport(new URL(url), { service, logger: silentLogger });
      await transport.connect();
      const left: string[] = [];
      try {
        if (transport.exists === undefined) throw new Error(`The ${broker} transport has no exists(): this test cannot tell what is left.`);
        for (const key of SCENARIOS) {
          const topic = `bench.${key}.s.${report.run}.0`;
          for (const name of [topic, deadLetterTopicOf(topic)]) if (await transport.exists(name, service)) left.push(name);
        }
      } finally {
        await transport.close();
      }
      expect(left).toEqual([]);
      if (broker === 'kafka') expect(await kafkaTopicsNaming(url, report.run)).toEqual([]);
    });
  }
});
