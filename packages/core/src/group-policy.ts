/**
 * Group policies: one group is one set of rules. Two subscriptions of one group that disagree on
 * how many attempts a message gets or where it is dead-lettered would each settle the other's
 * messages by their own rules, so the second is refused — by core within a bus, and by
 * transports that keep the policy on the broker (memory, JetStream consumers, SQS redrive, ...)
 * across processes. Core's backoff curve and concurrency are per instance and may differ.
 */
import { ConfigurationError } from './errors.js';
import type { GroupPolicy } from './spi.js';

/** The parts of a policy every member of a group must share. */
function shared(policy: GroupPolicy): string {
  return `maxAttempts ${policy.maxAttempts}, ${policy.deadLetterTopic === false ? 'no dead-letter topic (deadLetter: false)' : `dead-letter topic "${policy.deadLetterTopic}"`}`;
}

/** The ConfigurationError for a group re-declared with a different policy, or undefined when they agree. */
export function groupPolicyConflict(topic: string, group: string, existing: GroupPolicy, wanted: GroupPolicy): ConfigurationError | undefined {
  const before = shared(existing);
  const now = shared(wanted);
  if (before === now && existing.ephemeral === wanted.ephemeral) return undefined;
  return new ConfigurationError(
    `Group "${group}" on topic "${topic}" is already consumed with ${before}; this subscription asks for ${now}. ` +
      'Every consumer of one group must use the same maxAttempts and deadLetter: change them together (stop the old consumers first), or use another group name.',
  );
}

/** The policies of the groups this bus consumes now, so a conflicting subscription fails before it starts. */
export class GroupPolicies {
  private readonly live = new Map<string, { policy: GroupPolicy; holders: number }>();

  /** Check `policy` against the group's live one and hold it; the returned function lets go. */
  claim(topic: string, group: string, policy: GroupPolicy): () => void {
    this.check(topic, group, policy);
    const key = `${topic}\0${group}`;
    const entry = this.live.get(key) ?? { policy, holders: 0 };
    entry.holders++;
    this.live.set(key, entry);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--entry.holders === 0) this.live.delete(key);
    };
  }

  /** Throws ConfigurationError when the group is live here with a different policy. */
  check(topic: string, group: string, policy: GroupPolicy): void {
    const entry = this.live.get(`${topic}\0${group}`);
    const conflict = entry && groupPolicyConflict(topic, group, entry.policy, policy);
    if (conflict) throw conflict;
  }
}
