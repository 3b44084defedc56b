import { redactUrl } from '@switchyard/core/spi';

/** A broker URL as the CLI shows it: password and secret-looking options masked. */
export function shown(url: string): string {
  return redactUrl(url);
}

/** The matrix column name for a URL's broker (amqp → rabbitmq, gcppubsub → pubsub, ...). */
export function brokerName(url: string): string {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase() ?? 'broker';
  const names: Record<string, string> = { amqp: 'rabbitmq', amqps: 'rabbitmq', gcppubsub: 'pubsub' };
  return names[scheme] ?? scheme;
}
