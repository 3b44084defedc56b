import { deadLetterTopicOf, type Bus, type PulledMessage } from '@switchyard/core';
import { intOption, positionals, stringList, stringOption, type Parsed } from '../args.js';
import { openBus } from '../bus.js';
import type { Command, CommandContext } from '../command.js';
import { ExitCode, UsageError, type ExitCodeValue } from '../exit-codes.js';
import { table, type Output } from '../output.js';
import { shown } from '../url.js';

const ACTIONS = ['list', 'show', 'redrive', 'purge'] as const;
type Action = (typeof ACTIONS)[number];

/** Headers core adds when it dead-letters; a redriven message leaves them behind (publish refuses the prefix anyway). */
const SWITCHYARD_PREFIX = 'x-switchyard-';
const ORIGINAL_TOPIC = 'x-switchyard-original-topic';
/** Nacks by list/show count as deliveries: a high ceiling keeps looking from ever dead-lettering a dead letter. */
const MAX_ATTEMPTS = 1000;
const PAGE = 100;

export const dlq: Command = {
  name: 'dlq',
  summary: 'list, show, redrive or purge dead-lettered messages',
  options: {
    group: { type: 'string', short: 'g' },
    limit: { type: 'string', short: 'n' },
    where: { type: 'string', multiple: true },
    to: { type: 'string' },
    dlq: { type: 'string' },
    wait: { type: 'string' },
    yes: { type: 'boolean', short: 'y' },
    json: { type: 'boolean' },
  },
  help: `Usage: switchyard dlq <list|show|redrive|purge> <url> <topic> [options]

Dead letters of <topic> are in <topic>.dlq (the default dead-letter topic), kept for each group that
subscribes to <topic>: read them with such a group (--group). Every such group keeps a copy of every
dead letter of the topic, whichever group failed it (x-switchyard-group says which):
--where x-switchyard-group=<group> selects one group's failures.

  list      one line per dead letter: id, when and why it failed, attempts, group, body preview
  show      every header and the whole body of each dead letter
  redrive   publish each one back to its original topic (x-switchyard-original-topic) or --to,
            wait for the broker's confirm, and only then remove it from the dead-letter topic
  purge     remove dead letters for good (asks first; --yes for scripts)

list and show give every message back: nothing is removed by looking. Redrive keeps the message id,
key, correlation id and your headers (not the x-switchyard-* ones); every group of the target topic
receives it again, so handlers with idempotency skip groups that already handled it. A message that
cannot be republished stays in the dead-letter topic (at-least-once: never lost).

Options:
  -g, --group <group>      consumer group whose dead letters to read (default: $SWITCHYARD_SERVICE)
  -n, --limit <n>          at most this many messages (default: list 100, show 10, redrive/purge all)
      --where <h=value>    only messages whose header h is value (repeatable: all must match);
                           "id=<message id>" matches the message id
      --to <topic>         redrive to this topic instead of the original one
      --dlq <topic>        the dead-letter topic, when the subscription set deadLetter: '<topic>'
      --wait <ms>          how long to wait for the first message (default 5000 — Kafka joins a group
                           first; on brokers with leases, NATS, SQS and Pub/Sub, one lease + 2000:
                           a message an earlier run gave back may take that long to come back)
  -y, --yes                purge without asking (required when there is no terminal)
      --json               list/show: one JSON object per line
  -h, --help               this help

Exit codes: 0 done, 1 some dead letters could not be redriven or the purge was declined,
2 bad arguments (or purge without --yes and no terminal), 3 broker error.

Examples:
  switchyard dlq list amqp://guest:guest@127.0.0.1:5672 order.placed --group notifications
  switchyard dlq show kafka://127.0.0.1:9092 order.placed -g billing --where id=ord-42
  switchyard dlq redrive kafka://127.0.0.1:9092 order.placed -g billing --where x-switchyard-group=billing
  switchyard dlq purge amqp://localhost order.placed -g notifications --yes`,

  async run(parsed, context) {
    const [action, url, topic] = positionals(parsed, ['action', 'url', 'topic']);
    if (!ACTIONS.includes(action as Action)) throw new UsageError(`Unknown dlq action "${action}": use one of ${ACTIONS.join(', ')}.`);
    const options = readOptions(parsed, action as Action, topic!, context);
    if (action === 'purge' && !options.yes && !context.out.interactive) {
      throw new UsageError('purge removes dead letters for good and there is no terminal to ask on: pass --yes to confirm.');
    }
    const bus = await openBus(url!);
    try {
      context.out.info(`Dead letters in "${options.dlqTopic}" for group "${options.group}" on ${shown(url!)}`);
      const reader = new DeadLetterReader(bus, options);
      switch (action as Action) {
        case 'list':
        case 'show':
          return await look(reader, context.out, action === 'show', options.json);
        case 'redrive':
          return await redrive(bus, reader, context.out, options.to);
        case 'purge':
          return await purge(reader, context, options.yes);
      }
    } finally {
      await bus.close({ drainTimeoutMs: 5000 });
    }
  },
};

interface DlqOptions {
  dlqTopic: string;
  group: string;
  limit: number;
  where: [string, string][];
  /** Wait for the first message; undefined: the broker's default (see DeadLetterReader). */
  waitMs: number | undefined;
  to?: string;
  yes: boolean;
  json: boolean;
}

function readOptions({ values }: Parsed, action: Action, topic: string, { env }: CommandContext): DlqOptions {
  const group = stringOption(values, 'group') ?? env['SWITCHYARD_SERVICE'];
  if (group === undefined || group === '') {
    throw new UsageError(
      "Which group? Dead letters are kept for each consumer group that subscribes to the topic: pass --group <one of those groups> (a subscription's group is its service name unless it set group), or set SWITCHYARD_SERVICE.",
    );
  }
  const where = stringList(values, 'where').map((w): [string, string] => {
    const eq = w.indexOf('=');
    if (eq <= 0) throw new UsageError(`--where takes header=value (e.g. --where x-switchyard-group=billing); got "${w}".`);
    return [w.slice(0, eq).toLowerCase(), w.slice(eq + 1)];
  });
  const defaultLimit = action === 'list' ? 100 : action === 'show' ? 10 : Number.MAX_SAFE_INTEGER;
  const to = stringOption(values, 'to');
  if (to !== undefined && action !== 'redrive') throw new UsageError('--to is for redrive only.');
  const dlqTopic = stringOption(values, 'dlq') ?? deadLetterTopicOf(topic);
  // Redriving into the topic being read would hand every message straight back to this loop.
  if (to === dlqTopic) throw new UsageError(`--to ${to} is the dead-letter topic being read; redrive to the topic the messages should be handled on.`);
  const out: DlqOptions = {
    dlqTopic,
    group,
    limit: intOption(values, 'limit', defaultLimit, 1, Number.MAX_SAFE_INTEGER),
    where,
    waitMs: values['wait'] === undefined ? undefined : intOption(values, 'wait', 0, 0, 300_000),
    yes: values['yes'] === true,
    json: values['json'] === true,
  };
  if (to !== undefined) out.to = to;
  return out;
}

/**
 * Pulls dead letters page by page, holding every one it pulled until told what to do with it,
 * so one run never sees a message twice and everything not acted on goes back at the end.
 */
class DeadLetterReader {
  private readonly held = new Set<PulledMessage>();
  private drained = false;
  private acked = 0;
  private released = 0;

  constructor(
    private readonly bus: Bus,
    private readonly options: DlqOptions,
  ) {}

  /**
   * How long to wait for the first message, and for the next page before calling the topic
   * drained. On lease-based brokers (NATS, SQS, Pub/Sub) a message an earlier run gave back can
   * take up to a lease to come back, and deliveries trickle in: wait past one lease first.
   */
  private waits(): { first: number; next: number } {
    const lease = this.bus.capabilities.leaseMs;
    return { first: this.options.waitMs ?? (lease === undefined ? 5000 : lease + 2000), next: lease === undefined ? 1000 : 3000 };
  }

  /** The next matching messages (at most `want`), or [] when the topic has nothing more for the group. */
  async next(want: number): Promise<PulledMessage[]> {
    const matched: PulledMessage[] = [];
    const waits = this.waits();
    while (matched.length < want && !this.drained) {
      const first = this.held.size === 0 && matched.length === 0;
      const batch = await this.bus.pull(this.options.dlqTopic, { group: this.options.group, max: PAGE, waitMs: first ? waits.first : waits.next, maxAttempts: MAX_ATTEMPTS });
      if (batch.length === 0) this.drained = true;
      for (const m of batch) {
        this.held.add(m);
        if (matched.length < want && this.matches(m)) matched.push(m);
      }
    }
    return matched;
  }

  async ack(m: PulledMessage): Promise<void> {
    this.held.delete(m);
    await m.ack();
    this.acked += 1;
  }

  /** Give back everything still held (delivered again later, to this group). */
  async releaseAll(): Promise<void> {
    const all = [...this.held];
    this.held.clear();
    this.released += all.length;
    await Promise.all(all.map((m) => m.nack({ delayMs: 0 })));
  }

  /**
   * On a log (Kafka: nack 'none') the group's position in a partition only moves past messages
   * settled in order, so one acked behind one given back is read again later: say so.
   */
  warnIfPartial(out: Output): void {
    if (this.acked === 0 || this.released === 0 || this.bus.capabilities.nack !== 'none') return;
    out.info(
      `warning: this broker keeps "${this.options.dlqTopic}" as a log, and ${this.released} dead letter(s) were left in place: a message acted on that sits behind one left in place (same partition) will be read again by list, show, redrive or purge. ` +
        'A second redrive would publish it again (handlers with idempotency skip it by its id); act on whole partitions (no --where / --limit) to avoid it.',
    );
  }

  private matches(m: PulledMessage): boolean {
    return this.options.where.every(([name, value]) => (name === 'id' ? m.id === value : m.headers[name] === value));
  }

  get limit(): number {
    return this.options.limit;
  }

  /** The broker hands out one message per key at a time: a held dead letter hides the next of its key. */
  get ordersPerKey(): boolean {
    return this.bus.capabilities.ordering === 'perKey';
  }
}

async function look(reader: DeadLetterReader, out: Output, detailed: boolean, json: boolean): Promise<ExitCodeValue> {
  try {
    const messages = await reader.next(reader.limit);
    if (json) for (const m of messages) out.line(JSON.stringify(asJson(m)));
    else if (detailed) for (const m of messages) printDetail(out, m);
    else if (messages.length > 0) {
      const rows = messages.map((m) => [
        m.id,
        m.headers['x-switchyard-failed-at'] ?? '',
        m.headers['x-switchyard-attempts'] ?? '',
        m.headers['x-switchyard-group'] ?? '',
        clip(m.headers['x-switchyard-error'] ?? '', 80),
        preview(m),
      ]);
      for (const row of table([['id', 'failed at', 'attempts', 'group', 'error', 'body'], ...rows])) out.line(row);
    }
    out.info(
      `${messages.length} dead letter${messages.length === 1 ? '' : 's'}${messages.length === reader.limit ? ` (the first ${reader.limit}; --limit shows more)` : ''}; all left in place.`,
    );
    if (reader.ordersPerKey && messages.some((m) => m.key !== undefined))
      out.info('note: this broker keeps per-key order, so of dead letters that share a key only the first is shown; the next appears once it is redriven or purged.');
    return ExitCode.ok;
  } finally {
    await reader.releaseAll();
  }
}

async function redrive(bus: Bus, reader: DeadLetterReader, out: Output, to: string | undefined): Promise<ExitCodeValue> {
  let redriven = 0;
  const failed: string[] = [];
  try {
    let remaining = reader.limit;
    while (remaining > 0) {
      const page = await reader.next(Math.min(PAGE, remaining));
      if (page.length === 0) break;
      remaining -= page.length;
      for (const m of page) {
        const target = to ?? m.headers[ORIGINAL_TOPIC];
        // A message not redriven stays held until the end, then goes back: given back now, a log
        // broker (Kafka) would hand it straight out again and this loop would never end.
        if (target === undefined) {
          failed.push(`${m.id}: no ${ORIGINAL_TOPIC} header; pass --to <topic>`);
          continue;
        }
        try {
          // Confirmed by the broker before the dead letter goes: a crash in between means a duplicate, never a loss.
          await bus.publish(target, m.body, republishOptions(m));
        } catch (err) {
          failed.push(`${m.id}: ${err instanceof Error ? err.message : String(err)}`);
          continue;
        }
        await reader.ack(m);
        redriven += 1;
        out.info(`redriven ${m.id} → ${target}`);
      }
    }
  } finally {
    await reader.releaseAll();
  }
  reader.warnIfPartial(out);
  out.line(`${redriven} dead letter${redriven === 1 ? '' : 's'} redriven${failed.length > 0 ? `, ${failed.length} left in the dead-letter topic` : ''}.`);
  for (const f of failed) out.line(`  not redriven: ${f}`);
  return failed.length > 0 ? ExitCode.failed : ExitCode.ok;
}

async function purge(reader: DeadLetterReader, { out, confirm }: CommandContext, yes: boolean): Promise<ExitCodeValue> {
  let purged = 0;
  try {
    if (!yes) {
      // Ask about exactly the messages held, so what is deleted is what was shown.
      const messages = await reader.next(reader.limit);
      if (messages.length === 0) {
        out.line('Nothing to purge.');
        return ExitCode.ok;
      }
      for (const m of messages) out.info(`  ${m.id}  ${m.headers['x-switchyard-error'] ?? ''}`);
      if (!(await confirm(`Delete ${messages.length === 1 ? 'this dead letter' : `these ${messages.length} dead letters`} for good?`))) {
        out.line('Purge declined; nothing was deleted.');
        return ExitCode.failed;
      }
      for (const m of messages) await reader.ack(m);
      purged = messages.length;
    } else {
      let remaining = reader.limit;
      while (remaining > 0) {
        const page = await reader.next(Math.min(PAGE, remaining));
        if (page.length === 0) break;
        remaining -= page.length;
        for (const m of page) await reader.ack(m);
        purged += page.length;
      }
    }
  } finally {
    await reader.releaseAll();
  }
  reader.warnIfPartial(out);
  out.line(`${purged} dead letter${purged === 1 ? '' : 's'} purged.`);
  return ExitCode.ok;
}

/** What travels again: id, key, correlation and causation ids, content type and the user's own headers. */
function republishOptions(m: PulledMessage) {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(m.headers)) if (!name.startsWith(SWITCHYARD_PREFIX)) headers[name] = value;
  const originalType = m.headers['x-switchyard-original-content-type'];
  return {
    id: m.id,
    correlationId: m.correlationId,
    headers,
    ...(m.key === undefined ? {} : { key: m.key }),
    ...(m.causationId === undefined ? {} : { causationId: m.causationId }),
    // Bytes that were undecodable go back labelled as they first came, byte for byte.
    ...(m.body instanceof Uint8Array ? { contentType: originalType ?? m.contentType } : {}),
  };
}

function asJson(m: PulledMessage) {
  const body = m.body instanceof Uint8Array ? { base64: Buffer.from(m.body).toString('base64') } : m.body;
  return {
    id: m.id,
    key: m.key,
    correlationId: m.correlationId,
    causationId: m.causationId,
    timestamp: m.timestamp.toISOString(),
    contentType: m.contentType,
    headers: m.headers,
    body,
  };
}

function printDetail(out: Output, m: PulledMessage): void {
  const { bold } = out.color;
  out.line(bold(`— ${m.id}`));
  const fields: [string, string][] = [
    ['time', m.timestamp.toISOString()],
    ['correlation id', m.correlationId],
    ...(m.causationId === undefined ? [] : [['causation id', m.causationId] as [string, string]]),
    ...(m.key === undefined ? [] : [['key', m.key] as [string, string]]),
    ['content type', m.contentType],
    ...Object.entries(m.headers).sort(([a], [b]) => a.localeCompare(b)),
  ];
  for (const row of table(fields.map(([k, v]) => [`  ${k}`, v]))) out.line(row);
  out.line('  body:');
  const text =
    m.body instanceof Uint8Array
      ? `<${m.body.byteLength} bytes> ${Buffer.from(m.body.slice(0, 64)).toString('hex')}`
      : typeof m.body === 'string'
        ? m.body
        : JSON.stringify(m.body, null, 2);
  for (const line of text.split('\n')) out.line(`    ${line}`);
}

function preview(m: PulledMessage): string {
  return clip(m.body instanceof Uint8Array ? `<${m.body.byteLength} bytes>` : typeof m.body === 'string' ? m.body : JSON.stringify(m.body), 60);
}

/** One table cell (show prints the whole text). */
function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
