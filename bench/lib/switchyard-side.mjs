/**
 * The Switchyard side of every pair: the public Bus API on the broker's URL, used the way an app
 * uses it. Implements the Side interface (see scenarios.mjs).
 */
import { createBus, silentLogger } from '@switchyard/core';

export async function switchyardSide(url, service) {
  const bus = await createBus({ url, service, logger: silentLogger });
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
    close: () => bus.close(),
  };
}
