/**
 * Kafka's topic-name collision rule: '.' and '_' map to the same metric names, so Kafka refuses
 * to create a topic whose name differs from an existing one only by '.' versus '_' (`x.orders`
 * and `x_orders`). Both are portable Switchyard names, so this can only be caught when the
 * second one is created; it is a configuration mistake, not a broker outage.
 */
import { ConfigurationError } from '@switchyard/core';
import { errorMessage } from '@switchyard/core/spi';
import type { Admin } from 'kafkajs';

/** Topics that collide in Kafka have the same key. */
export function collisionKey(topic: string): string {
  return topic.replaceAll('.', '_');
}

interface KafkaError {
  readonly type?: string;
  readonly topic?: string;
  readonly errors?: readonly KafkaError[];
}

/** createTopics answered INVALID_TOPIC_EXCEPTION for this topic (kafkajs wraps it in an aggregate error). */
export function isInvalidTopic(err: unknown): boolean {
  const e = err as KafkaError | undefined;
  return e?.type === 'INVALID_TOPIC_EXCEPTION' || (e?.errors ?? []).some((inner) => inner.type === 'INVALID_TOPIC_EXCEPTION');
}

/**
 * The error for a refused topic: names the topic it collides with when the broker lists one.
 * The cause is rebuilt from the broker's answer (passed through `scrub`), never the client's
 * error object, so no connection detail rides along.
 */
export async function topicCollisionError(admin: Admin, topic: string, err: unknown, scrub: (text: string) => string): Promise<ConfigurationError> {
  let existing: string | undefined;
  try {
    existing = (await admin.listTopics()).find((t) => t !== topic && collisionKey(t) === collisionKey(topic));
  } catch {
    // Could not list topics: say what the rule is without naming the other topic.
  }
  const what = existing === undefined ? 'an existing topic whose name differs from it only by "." versus "_"' : `the existing topic "${existing}"`;
  const inner = (err as KafkaError).errors ?? [];
  const answer = inner.length > 0 ? inner.map((e) => `${e.topic ?? topic}: ${e.type ?? 'error'}`).join(', ') : errorMessage(err);
  return new ConfigurationError(
    `Kafka refused to create topic "${topic}": it collides with ${what}. Kafka treats "." and "_" in topic names as the same ` +
      `character (they share metric names), so two topics may not differ only there. Rename one of them, e.g. use one separator consistently.`,
    { cause: new Error(scrub(`Kafka CreateTopics answered ${answer}`)) },
  );
}
