/**
 * The Switchyard side of every pair: the public Bus API on the broker's URL, used the way an app
 * uses it. Implements the Side interface (see scenarios.mjs).
 */
import { createBus, silentLogger } from '@switchyard/core';
import { createTransport } from '@switchyard/core/spi';

export async function switchyardSide(url, service) {
  const bus = await createBus({ url, service, logger: silentLogger });
  /** Topics whose group prepare() declared: nothing consumes them, so close() removes them. */
  const prepared = new Set();
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
        await declaring.pull(topic, { waitMs: 0, max: 1 });
        prepared.add(topic);
      } finally {
        await declaring.close();
      }
    },
    publish: (topic, body) => bus.publish(topic, body),
    async consume(topic, concurrency, handler) {
      const sub = await bus.subscribe(topic, (msg) => handler(msg.body), { concurrency, deadLetter: false });
      return () => sub.close();
    },
    async serve(topic, concurrency, answer) {
      const sub = await bus.reply(topic, (msg) => answer(msg.body), { concurrency });
      return () => sub.close();
    },
    request: (topic, body) => bus.request(topic, body, { timeoutMs: 30_000 }),
    async close() {
      await bus.close();
      await removeGroups(url, service, prepared);
    },
  };
}

/**
 * The publish-only runs leave every message they published in the group prepare() declared (the
 * broker keeps them for it, as it should). Removed after the run, or each bench run leaves
 * thousands behind: the Pub/Sub emulator, which keeps them in its heap, slowed to a halt after a
 * few runs. Through the transport, since the Bus API has no way to remove a group.
 */
async function removeGroups(url, service, topics) {
  if (topics.size === 0) return;
  const transport = await createTransport(new URL(url), { service, logger: silentLogger });
  try {
    await transport.connect();
    for (const topic of topics) await transport.deleteGroup?.(topic, service);
  } finally {
    await transport.close();
  }
}
