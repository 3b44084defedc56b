/**
 * Where the smoke tests find each broker: `SWITCHYARD_TEST_<NAME>_URL`, defaulting to what
 * `scripts/brokers up` starts on 127.0.0.1. The same variables and defaults are used by the
 * adapter suites; see the "Brokers" section of README.md.
 */
export const brokerNames = ['rabbitmq', 'kafka', 'nats', 'sqs', 'pubsub', 'redis', 'postgres'] as const;
export type BrokerName = (typeof brokerNames)[number];

export const defaultUrls: Record<BrokerName, string> = {
  rabbitmq: 'amqp://guest:guest@127.0.0.1:5672',
  kafka: 'kafka://127.0.0.1:9092',
  nats: 'nats://127.0.0.1:4222',
  sqs: 'sqs://127.0.0.1:9324?region=us-east-1',
  pubsub: 'gcppubsub://switchyard-test?emulator=127.0.0.1:8085',
  redis: 'redis://127.0.0.1:6379',
  postgres: 'postgres://switchyard:switchyard@127.0.0.1:5432/switchyard',
};

export function envVar(name: BrokerName): string {
  return `SWITCHYARD_TEST_${name.toUpperCase()}_URL`;
}

/** The URL for a broker: the env var if set and non-empty, else the local default. */
export function brokerUrl(name: BrokerName): string {
  const fromEnv = process.env[envVar(name)];
  return fromEnv !== undefined && fromEnv.trim() !== '' ? fromEnv.trim() : defaultUrls[name];
}

/** True when the test run uses the broker `scripts/brokers` manages (so it may restart it). */
export function isLocalDefault(name: BrokerName): boolean {
  return brokerUrl(name) === defaultUrls[name];
}

/** kafka://host:port[,host:port...] -> broker list for kafkajs. */
export function kafkaBrokers(url = brokerUrl('kafka')): string[] {
  const rest = url.replace(/^kafka:\/\//, '');
  return rest
    .split('/')[0]!
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** sqs://host:port?region=... -> the HTTP endpoint and region for the AWS SDK. */
export function sqsEndpoint(url = brokerUrl('sqs')): { endpoint: string; region: string } {
  const u = new URL(url);
  const scheme = u.searchParams.get('tls') === 'true' ? 'https' : 'http';
  return { endpoint: `${scheme}://${u.host}`, region: u.searchParams.get('region') ?? 'us-east-1' };
}

/** gcppubsub://project?emulator=host:port (the adapter's URL) -> apiEndpoint and projectId for @google-cloud/pubsub. */
export function pubsubTarget(url = brokerUrl('pubsub')): { apiEndpoint: string; projectId: string } {
  const u = new URL(url);
  const emulator = u.searchParams.get('emulator') ?? process.env['PUBSUB_EMULATOR_HOST'];
  if (!emulator) throw new Error(`${url} names no emulator: the smoke test needs gcppubsub://project?emulator=host:port`);
  return { apiEndpoint: emulator, projectId: u.hostname || 'switchyard-test' };
}

/** nats://host:port[,...] -> server list for nats.js (credentials in the URL are kept). */
export function natsServers(url = brokerUrl('nats')): string[] {
  return url
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** A name no other run uses: prefix + time + random. */
export function unique(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Reject if `promise` has not settled within `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms}ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Call `attempt` until it resolves or `ms` passes (for reconnecting after a broker restart). */
export async function retryUntil<T>(attempt: () => Promise<T>, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  let lastError: unknown;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      throw new Error(`${what}: still failing after ${ms}ms: ${String(lastError)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
