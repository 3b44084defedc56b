/**
 * @switchyard/bench — Switchyard next to each broker's raw client, same guarantees, one process.
 *
 *   import { runBench } from '@switchyard/bench';
 *   const report = await runBench({ brokers: ['amqp'], reps: 3, log: console.log });
 *   const report = await runBench({ url: 'amqp://guest:guest@127.0.0.1:5672' }); // the broker of a URL
 *
 * See README.md for the scenarios, the guarantees each raw baseline keeps, options and the report.
 */
import { redactUrl } from '@switchyard/core/spi';
import { DEFAULT_RAW_WIRE } from './lib/cloudevents.mjs';
import { optionProblem } from './lib/options.mjs';
import { inFlightMemory, runPair, SCENARIO_KEYS, scenarios } from './lib/scenarios.mjs';
import { switchyardSide } from './lib/switchyard-side.mjs';

/**
 * Per broker: its URL (env var the tests use, else the scripts/brokers address), raw side and
 * default counts, sized for 2 cores so that a throughput run lasts about a second or more: runs of
 * a few tenths of a second were mostly warm-up (connections, consumer groups, batch sizes), and
 * their ratios spread from 0.6 to 1.2 between repetitions.
 */
export const BROKERS = {
  memory: {
    env: undefined,
    url: 'memory://bench',
    raw: async () => {
      const m = await import('./raw/memory.mjs');
      return { raw: m.emitterSide(), anchors: { 'async queue': m.queueSide } };
    },
    counts: { publishSeq: 10_000, publish64: 25_000, e2e1: 10_000, e2e16: 25_000, requestSeq: 3_000, request32: 10_000, inFlight: 1_000 },
  },
  amqp: {
    env: 'SWITCHYARD_TEST_RABBITMQ_URL',
    url: 'amqp://guest:guest@127.0.0.1:5672',
    raw: async (url, options) => ({ raw: await (await import('./raw/amqp.mjs')).amqpSide(url, options) }),
    counts: { publishSeq: 1_000, publish64: 15_000, e2e1: 5_000, e2e16: 10_000, requestSeq: 500, request32: 2_000, inFlight: 200 },
  },
  kafka: {
    env: 'SWITCHYARD_TEST_KAFKA_URL',
    url: 'kafka://127.0.0.1:9092',
    raw: async (url, options) => ({ raw: await (await import('./raw/kafka.mjs')).kafkaSide(url, options) }),
    // inFlight 0: raw kafkajs (eachBatch) fetches nothing more for a partition until its batch's handlers finish, so it cannot park N handlers.
    // Doubled once both sides got faster: at half these counts the runs took 0.5–1 s, and the per-run ratios of publish 64 spread
    // 0.70–1.00 within one run (2026-11-25); at these counts 0.88–1.02 over three runs.
    counts: { publishSeq: 3_000, publish64: 40_000, e2e1: 16_000, e2e16: 40_000, requestSeq: 100, request32: 500, inFlight: 0 },
  },
  nats: {
    env: 'SWITCHYARD_TEST_NATS_URL',
    url: 'nats://127.0.0.1:4222',
    raw: async (url, options) => ({ raw: await (await import('./raw/nats.mjs')).natsSide(url, options) }),
    counts: { publishSeq: 1_000, publish64: 15_000, e2e1: 5_000, e2e16: 15_000, requestSeq: 500, request32: 2_000, inFlight: 200 },
  },
  sqs: {
    env: 'SWITCHYARD_TEST_SQS_URL',
    url: 'sqs://127.0.0.1:9324',
    raw: async (url, options) => ({ raw: await (await import('./raw/sqs.mjs')).sqsSide(url, options) }),
    counts: { publishSeq: 200, publish64: 1_000, e2e1: 500, e2e16: 1_000, requestSeq: 100, request32: 300, inFlight: 100 },
  },
  pubsub: {
    env: 'SWITCHYARD_TEST_PUBSUB_URL',
    url: 'gcppubsub://switchyard-test?emulator=127.0.0.1:8085',
    raw: async (url, options) => ({ raw: await (await import('./raw/pubsub.mjs')).pubsubSide(url, options) }),
    // What the publish scenarios send stays stored in the emulator until the bench closes its side: scripts/brokers gives it a 2 GB heap for that.
    counts: { publishSeq: 200, publish64: 10_000, e2e1: 1_500, e2e16: 5_000, requestSeq: 50, request32: 300, inFlight: 100 },
  },
};

/** The keys `only` takes: every scenario's, and 'inflight' (heap per in-flight message). */
export { SCENARIO_KEYS };

const ALIASES = { rabbitmq: 'amqp', amqps: 'amqp', gcppubsub: 'pubsub', jetstream: 'nats' };

/** 'amqp', 'rabbitmq', or a URL whose scheme names the broker. */
export function brokerOf(nameOrUrl) {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(nameOrUrl)?.[1]?.toLowerCase();
  const name = ALIASES[scheme ?? nameOrUrl] ?? scheme ?? nameOrUrl;
  if (!(name in BROKERS)) throw new Error(`bench: unknown broker "${nameOrUrl}"; use one of ${Object.keys(BROKERS).join(', ')} or a URL with one of their schemes.`);
  return name;
}

const fmtRate = (r) => (Number.isFinite(r) ? `${Math.round(r).toLocaleString('en-US')}/s` : '-');
const fmtMs = (v) => (Number.isFinite(v) ? `${v.toFixed(2)} ms` : '-');

/** The `scenario raw switchyard ratio` line of one result (plus CPU µs/msg and latencies). */
export function formatResult(broker, r) {
  const cpu = `cpu µs/msg ${r.raw.cpuUsPerMsg.toFixed(1)} / ${r.switchyard.cpuUsPerMsg.toFixed(1)}`;
  const spread = r.ratioSpread.length ? ` (runs ${r.ratioSpread.map((v) => v.toFixed(2)).join('–')})` : '';
  let line = `${`${broker} ${r.scenario}`.padEnd(44)} ${fmtRate(r.raw.rate).padStart(10)} ${fmtRate(r.switchyard.rate).padStart(10)} ${r.ratio.toFixed(2).padStart(5)}${spread}  ${cpu}`;
  if (r.p50Ratio !== undefined)
    line += `  p50 ${fmtMs(r.raw.p50)} / ${fmtMs(r.switchyard.p50)} (${r.p50Ratio.toFixed(2)}×)  p99 ${fmtMs(r.raw.p99)} / ${fmtMs(r.switchyard.p99)} (${r.p99Ratio.toFixed(2)}×)`;
  return line;
}

/**
 * Run the bench. Options (all optional):
 *   url      — a broker URL: bench that broker there (overrides `brokers`)
 *   brokers  — names (memory, amqp, kafka, nats, sqs, pubsub); default all
 *   reps     — repetitions (default 3), each raw, Switchyard, Switchyard, raw (the next the other way round),
 *              after one warm-up run per side; rates are medians of the runs, a ratio is the median of the
 *              repetitions' ratios
 *   scale    — multiplies every message count (default 1)
 *   only     — scenario keys to run: publish-seq, publish-64, e2e-c1, e2e-c16, rr-seq, rr-32, inflight
 *   rawWire  — 'cloudevents' (default: raw sides send Switchyard's CloudEvents attributes in their
 *              broker's binding; not memory's anchors) or 'plain' (raw sides send bodies alone)
 *   log      — line printer (default: nothing)
 * Resolves to { startedAt, run, node, reps, scale, rawWire, brokers: [{ broker, url, run, results, inFlight, error? }] }.
 */
export async function runBench(options = {}) {
  const log = options.log ?? (() => undefined);
  const reps = options.reps ?? 3;
  const rawWire = options.rawWire ?? DEFAULT_RAW_WIRE;
  const scale = options.scale ?? 1;
  const problem = optionProblem({ rawWire, only: options.only });
  if (problem) throw new Error(`bench: ${problem}`);
  const only = options.only ? new Set(options.only) : undefined;
  const targets = options.url ? [{ name: brokerOf(String(options.url)), url: String(options.url) }] : (options.brokers ?? Object.keys(BROKERS)).map((b) => ({ name: brokerOf(b) }));
  const run = Math.random().toString(36).slice(2, 8);
  const report = { startedAt: new Date().toISOString(), run, node: process.version, reps, scale, rawWire, brokers: [] };
  for (const target of targets) {
    const spec = BROKERS[target.name];
    const url = target.url ?? (spec.env ? process.env[spec.env] : undefined) ?? spec.url;
    const entry = { broker: target.name, url: redactUrl(new URL(url)), run, results: [], inFlight: undefined };
    report.brokers.push(entry);
    const rawLabel = rawWire === 'cloudevents' && target.name !== 'memory' ? 'raw+CloudEvents' : 'raw';
    log(
      `\n== ${target.name} (${entry.url}) — ${reps} reps (raw, Switchyard, Switchyard, raw; then the other way round). scenario  ${rawLabel}  switchyard (medians)  ratio (median of the reps')`,
    );
    const counts = Object.fromEntries(Object.entries(spec.counts).map(([k, v]) => [k, v === 0 ? 0 : Math.max(1, Math.round(v * scale))]));
    const sides = {};
    try {
      Object.assign(sides, await spec.raw(url, { wire: rawWire }));
      sides.switchyard = await switchyardSide(url, `bench-${run}`);
      const topicFor = (key, which, rep) => `bench.${key}.${which === 'raw' ? 'r' : 's'}.${run}.${rep}`;
      for (const scenario of scenarios(counts)) {
        if (only && !only.has(scenario.key)) continue;
        const result = await runPair({ scenario, sides, reps, topicFor });
        entry.results.push(result);
        log(formatResult(target.name, result));
      }
      for (const [anchor, make] of Object.entries(sides.anchors ?? {})) {
        for (const scenario of scenarios(counts).filter((s) => s.key.startsWith('e2e') && (!only || only.has(s.key)))) {
          const anchored = { ...scenario, key: `${scenario.key}-${anchor.replace(/\W+/g, '-')}`, name: `${scenario.name} vs ${anchor}` };
          const result = await runPair({ scenario: anchored, sides: { raw: make(), switchyard: sides.switchyard }, reps, topicFor });
          entry.results.push(result);
          log(formatResult(target.name, result));
        }
      }
      if ((!only || only.has('inflight')) && counts.inFlight > 0) {
        const raw = await inFlightMemory(sides.raw, `bench.inflight.r.${run}`, counts.inFlight);
        const sy = await inFlightMemory(sides.switchyard, `bench.inflight.s.${run}`, counts.inFlight);
        entry.inFlight = { count: counts.inFlight, rawBytes: raw.bytesPerMessage, switchyardBytes: sy.bytesPerMessage };
        log(
          `${`${target.name} memory per in-flight message`.padEnd(44)} raw ${(raw.bytesPerMessage / 1024).toFixed(2)} KiB  switchyard ${(sy.bytesPerMessage / 1024).toFixed(2)} KiB  (${counts.inFlight} handlers held)`,
        );
      }
    } catch (err) {
      entry.error = err instanceof Error ? err.message : String(err);
      log(`${target.name}: failed — ${entry.error}`);
    } finally {
      // Nothing either side declared stays on the broker: later runs would measure a broker busy with it.
      const cleanup = (what, work) => work.catch((err) => log(`${target.name}: ${what} failed — ${err instanceof Error ? err.message : String(err)}`));
      // Each side that came up is closed, also when the other one failed to.
      if (sides.switchyard) await cleanup('closing the Switchyard side', sides.switchyard.close());
      if (sides.switchyard && sides.raw?.removeTopics) await cleanup("removing the Switchyard side's topics", sides.raw.removeTopics(sides.switchyard.topics()));
      if (sides.raw) await cleanup('closing the raw side', sides.raw.close());
    }
  }
  return report;
}
