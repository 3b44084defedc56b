import { randomUUID } from 'node:crypto';
import { createBus, NonRetryableError, silentLogger, type Bus, type Message } from '@switchyard/core';
import { Collector } from '@switchyard/conformance';
import { describe, expect, it, type TestContext } from 'vitest';
import { KAFKA_URL, passwordOf, RABBITMQ_URL, runCli, runOnTerminal, urlWith } from './helpers.js';

/** A bus closed when the test that opened it ends (the brokers' tests run concurrently). */
async function bus(test: TestContext, url: string, service: string): Promise<Bus> {
  const b = await createBus({ url, service, logger: silentLogger });
  test.onTestFinished(() => b.close({ drainTimeoutMs: 2000 }));
  return b;
}

/** Three messages dead-lettered by `group` on `topic` (a handler that throws NonRetryableError). */
async function deadLetterThree(test: TestContext, url: string, topic: string, group: string): Promise<string[]> {
  const app = await bus(test, url, group);
  const failed = new Collector<string>();
  const sub = await app.subscribe(
    topic,
    (m: Message<{ n: number }>) => {
      failed.push(m.id);
      throw new NonRetryableError(`cannot bill order ${m.body.n}`);
    },
    { group },
  );
  const ids: string[] = [];
  for (let n = 0; n < 3; n++) ids.push((await app.publish(topic, { n }, { key: `k${n}`, headers: { tenant: n === 1 ? 'odd' : 'even' } })).id);
  await failed.waitFor(3);
  await sub.close(); // closing settles: every dead-letter publish was confirmed
  return ids;
}

/** The ids `dlq list --json` prints. */
async function listed(url: string, topic: string, group: string): Promise<string[]> {
  const { code, stdout, stderr } = await runCli(['dlq', 'list', url, topic, '--group', group, '--json', '--wait', '3000']);
  expect(code, stderr).toBe(0);
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => (JSON.parse(line) as { id: string }).id)
    .sort();
}

// The two brokers at once: each test has its own topic, and the stage stays short.
describe.concurrent.each([
  ['rabbitmq', RABBITMQ_URL],
  // One partition: the dead letters sit in the DLQ in the order they failed (see the redrive below).
  ['kafka', urlWith(KAFKA_URL, 'partitions=1')],
])('switchyard dlq on %s', (name, url) => {
  it('list and show leave every dead letter in place; redrive one and it is handled; purge asks, then removes', async (test) => {
    const topic = `cli.dlq.${randomUUID().slice(0, 8)}`;
    const group = 'billing';
    const ids = await deadLetterThree(test, url, topic, group);

    // list: a table with the x-switchyard-* reasons; the password never printed.
    const list = await runCli(['dlq', 'list', url, topic, '--group', group]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^id +failed at +attempts +group +error +body$/m);
    for (const n of [0, 1, 2]) expect(list.stdout).toMatch(new RegExp(`\\s1 +billing +cannot bill order ${n} +\\{"n":${n}\\}$`, 'm'));
    expect(list.stderr).toContain('3 dead letters; all left in place.');
    if (passwordOf(url)) expect(list.stdout + list.stderr).not.toContain(`:${passwordOf(url)}@`);

    // Looking twice sees the same three: nothing was lost by looking.
    expect(await listed(url, topic, group)).toEqual([...ids].sort());

    // show --where: only the matching one, every header and the body.
    const show = await runCli(['dlq', 'show', url, topic, '-g', group, '--where', 'tenant=odd']);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain(`— ${ids[1]}`);
    expect(show.stdout).toMatch(/^ {2}x-switchyard-original-topic +cli\.dlq\./m);
    expect(show.stdout).toMatch(/^ {2}x-switchyard-error +cannot bill order 1$/m);
    expect(show.stdout).toMatch(/^ {2}key +k1$/m);
    expect(show.stdout).not.toContain(ids[0]!);

    // The bug is fixed: the group handles the topic again. Redrive the first one; it arrives once,
    // with its id, body, key and headers. (The first: on Kafka the DLQ is a log, and a message
    // behind one left in place would be read again — the CLI warns about that.)
    const app = await bus(test, url, group);
    const handled = new Collector<Message>();
    await app.subscribe(topic, (m) => handled.push(m), { group });
    const redrive = await runCli(['dlq', 'redrive', url, topic, '-g', group, '--where', `id=${ids[0]}`]);
    expect(redrive.code, redrive.stderr).toBe(0);
    expect(redrive.stdout).toContain('1 dead letter redriven.');
    expect(redrive.stderr).toContain(`redriven ${ids[0]} → ${topic}`);
    expect(redrive.stderr.includes('will be read again')).toBe(name === 'kafka');
    const [message] = await handled.waitFor(1);
    expect(message).toMatchObject({ id: ids[0], body: { n: 0 }, key: 'k0', headers: { tenant: 'even' } });
    expect(Object.keys(message!.headers).filter((h) => h.startsWith('x-switchyard-'))).toEqual([]);
    expect(await listed(url, topic, group)).toEqual([ids[1]!, ids[2]!].sort());

    // purge without a terminal and without --yes: refused, nothing deleted.
    const refused = await runCli(['dlq', 'purge', url, topic, '-g', group]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/there is no terminal to ask on: pass --yes/);
    expect(await listed(url, topic, group)).toEqual([ids[1]!, ids[2]!].sort());

    // On a terminal it shows what it would delete and asks; "n" deletes nothing (exit 1).
    const declined = await runOnTerminal(['dlq', 'purge', url, topic, '-g', group], { input: 'n\n' });
    expect(declined.code, declined.text).toBe(1);
    expect(declined.text).toContain(`${ids[1]}  cannot bill order 1`);
    expect(declined.text).toMatch(/Delete these 2 dead letters for good\? \[y\/N\]/);
    expect(declined.text).toContain('Purge declined; nothing was deleted.');
    expect(await listed(url, topic, group)).toEqual([ids[1]!, ids[2]!].sort());

    // "y" deletes exactly what was shown: here the first one (--limit 1).
    const confirmed = await runOnTerminal(['dlq', 'purge', url, topic, '-g', group, '--limit', '1'], { input: 'y\n' });
    expect(confirmed.code, confirmed.text).toBe(0);
    expect(confirmed.text).toMatch(/Delete this dead letter for good\? \[y\/N\]/);
    expect(confirmed.text).toContain('1 dead letter purged.');
    expect(await listed(url, topic, group)).toEqual([ids[2]!]);

    const purge = await runCli(['dlq', 'purge', url, topic, '-g', group, '--yes']);
    expect(purge.code).toBe(0);
    expect(purge.stdout).toContain('1 dead letter purged.');
    expect(await listed(url, topic, group)).toEqual([]);
    expect(handled.items).toHaveLength(1);
  });
});
