/** Types of @switchyard/bench (index.mjs). */

export type BrokerName = 'memory' | 'amqp' | 'kafka' | 'nats' | 'sqs' | 'pubsub';

export interface BenchOptions {
  /** A broker URL: bench that broker there (overrides `brokers`). */
  url?: string;
  /** Brokers by name (aliases: rabbitmq, gcppubsub, jetstream); default all six. */
  brokers?: string[];
  /** Repetitions, each raw, Switchyard, Switchyard, raw (the next the other way round), after one warm-up run per side. Default 3. */
  reps?: number;
  /** Multiplies every default message count. Default 1. */
  scale?: number;
  /** Scenario keys to run: publish-seq, publish-64, e2e-c1, e2e-c16, rr-seq, rr-32, inflight. Default all. */
  only?: string[];
  /**
   * What the raw sides send besides the body: 'cloudevents' (default: Switchyard's CloudEvents
   * attributes in the broker's binding, the metadata its wire contract carries, so a ratio is
   * Switchyard's own cost) or 'plain' (nothing but what their request/reply needs, to show what
   * carrying that metadata costs). memory's anchors ignore it.
   */
  rawWire?: 'plain' | 'cloudevents';
  /** Called with each printed line (`scenario raw switchyard ratio ...`). Default: nothing. */
  log?: (line: string) => void;
}

export interface SideSummary {
  /** Median messages (or requests) per second. */
  rate: number;
  /** Median client CPU (user + system, this process) per message, µs. */
  cpuUsPerMsg: number;
  /** Request/reply latency scenarios only: median of the runs' p50 / p99, ms. */
  p50?: number;
  p99?: number;
}

export interface ScenarioResult {
  scenario: string;
  key: string;
  count: number;
  raw: SideSummary;
  switchyard: SideSummary;
  /** Switchyard's rate over raw's: the median of the repetitions' ratios (each repetition: raw, Switchyard, Switchyard, raw, or the other way round). */
  ratio: number;
  /** switchyard.rate / raw.rate: the two sides' medians, from runs at different moments (for comparison). */
  ratioOfMedians: number;
  /** Lowest and highest ratio of the repetitions: how noisy it was. */
  ratioSpread: number[];
  /** Latency scenarios: switchyard / raw, the median of the repetitions' ratios (lower is better). */
  p50Ratio?: number;
  p99Ratio?: number;
  /** Every run of each side. */
  runs: { raw: Record<string, number>[]; switchyard: Record<string, number>[] };
}

export interface BrokerReport {
  broker: BrokerName;
  /** The URL used, credentials redacted. */
  url: string;
  /** The id of the run that benched this broker, in every name it used (see BenchReport.run); undefined when its bench process ended without a report. */
  run: string | undefined;
  results: ScenarioResult[];
  /** Heap per message parked in a handler (concurrency = count), bytes. */
  inFlight?: { count: number; rawBytes: number; switchyardBytes: number };
  /** Set when the broker's run failed (unreachable broker...); the other brokers still ran. */
  error?: string;
}

export interface BenchReport {
  startedAt: string;
  /** This run's id, in every name it used: topics `bench.<scenario>.<r|s>.<run>.<label>` (`<rep>a`, `<rep>b`, `warm`, or `all` for a publish-only scenario), the Switchyard side's service and groups `bench-<run>`. */
  run: string;
  node: string;
  reps: number;
  scale: number;
  rawWire: 'plain' | 'cloudevents';
  brokers: BrokerReport[];
}

export declare const BROKERS: Record<BrokerName, { env: string | undefined; url: string; counts: Record<string, number> }>;
/** The keys `BenchOptions.only` takes. */
export declare const SCENARIO_KEYS: readonly string[];
/** The broker name for a name, alias or URL (by its scheme); throws for an unknown one. */
export declare function brokerOf(nameOrUrl: string): BrokerName;
export declare function formatResult(broker: string, result: ScenarioResult): string;
export declare function runBench(options?: BenchOptions): Promise<BenchReport>;
