/**
 * The Switchyard side of every pair: the public Bus API on the broker's URL, used the way an app
 * uses it. Implements the Side interface (see scenarios.mjs).
 */
import { createBus, deadLetterTopicOf, silentLogger } from '@switchyard/core';
import { createTransport } from '@switchyard/core/spi';

export async function switchyardSide(url, service) {
  const bus = await createBus({ url, service, logger: silentLogger });
  /** Every topic this side gave a group (prepare, consume, serve). */
  const touched = new Set();
  /** Those topics and their dead-letter topics, whose groups core declares with them so no dead letter is lost. */
  const used = () => [...touched].flatMap((topic) => [topic, deadLetterTopicOf(topic)]);
  return {
    label: 'switchyard',
    /**
     * A group for the topic, so publishes are stored (as the raw side's queue/stream) and not
     * dropped. Declared by a pull on a second bus that is closed at once: a pull on the measured
     * bus would leave its consumer fetching in the background (the pull bridge keeps it for the
     * next pull), which the raw side, which only declares its queue, does not pay.
     */
    async prepare(topic) {
      const declaring = await createBus({ url, service, logger: silentLogger });
      try {
        touched.add(topic);
        await declaring.pull(topic, { waitMs: 0, max: 1 });
      } finally {
        await declaring.close();
      }
    },
    publish: (topic, body) => bus.publish(topic, body),
    async consume(topic, concurrency, handler) {
      touched.add(topic);
      const sub = await bus.subscribe(topic, (msg) => handler(msg.body), { concurrency, deadLetter: false });
      return () => sub.close();
    },
    async serve(topic, concurrency, answer) {
      touched.add(topic);
      const sub = await bus.reply(topic, (msg) => answer(msg.body), { concurrency });
      return () => sub.close();
    },
    request: (topic, body) => bus.request(topic, body, { timeoutMs: 30_000 }),
    /** The topics used (with their dead-letter topics), for the raw Kafka side to remove: removing a group leaves its topic. */
    topics: used,
    async close() {
      await bus.close();
      await removeGroups(url, service, used());
    },
  };
}

/**
 * Every group the run declared is removed after it, with what it still holds: the publish-only
 * runs leave every message they published in the group prepare() declared (the broker keeps them
 * for it, as it should), and each consume and serve run leaves its group. Without this each bench
 * run left them all on the broker: the Pub/Sub emulator, which keeps messages in its heap, slowed
 * to a halt after a few runs, and a RabbitMQ with hundreds of idle quorum queues spent CPU on them
 * that the next runs measured. Through the transport, since the Bus API has no way to remove a group.
 */
async function removeGroups(url, service, topics) {
  if (topics.length === 0) return;
  const transport = await createTransport(new URL(url), { service, logger: silentLogger });
  try {
    await transport.connect();
    for (const topic of topics) await transport.deleteGroup?.(topic, service);
  } finally {
    await transport.close();
  }
}
