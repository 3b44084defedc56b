/**
 * URL → transport. The scheme picks the adapter package, which is imported on demand so core
 * depends on no broker client.
 */
import { ConfigurationError } from './errors.js';
import type { TransportContext, TransportFactory, Transport } from './spi.js';
import { createMemoryTransport } from './memory/transport.js';
import { redactHosts, redactUrl } from './redact.js';

export { redactUrl } from './redact.js';

const builtIn = new Map<string, TransportFactory>([['memory', createMemoryTransport]]);
const registered = new Map<string, TransportFactory>();

/** Package that provides each scheme: published adapters only (a test checks each is a package of this repo). */
export const ADAPTER_PACKAGES: Readonly<Record<string, string>> = {
  amqp: '@switchyard/amqp',
  amqps: '@switchyard/amqp',
  kafka: '@switchyard/kafka',
  nats: '@switchyard/nats',
  gcppubsub: '@switchyard/pubsub',
  sqs: '@switchyard/sqs',
};

/**
 * Schemes whose adapter is planned but not published yet. Core still tries to import the
 * package, but when it is missing the error says so instead of suggesting an install that would
 * fail. Move a scheme to ADAPTER_PACKAGES when its package ships.
 */
export const PLANNED_ADAPTERS: Readonly<Record<string, string>> = {};

/** Register a transport for a scheme (custom adapters, tests). Overrides the package lookup. */
export function registerTransport(scheme: string, factory: TransportFactory): void {
  if (!/^[a-z][a-z0-9+.-]*$/.test(scheme)) throw new ConfigurationError(`Invalid URL scheme "${scheme}": use lowercase letters, digits, "+", "." or "-".`);
  registered.set(scheme, factory);
}

export interface ParsedBusUrl {
  /** The URL, with only the first host when the authority listed several. */
  readonly url: URL;
  /** Every host[:port] of the authority, in order (`kafka://k1:9092,k2:9092` → two). */
  readonly hosts: readonly string[];
}

const AUTHORITY = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/is;

/** How to write a URL whose password holds reserved characters; the usual reason a URL fails to parse. */
const URL_SHAPE_HINT =
  'Use scheme://[user:password@]host[:port][/path][?options] with a numeric port, and percent-encode reserved characters in the user name and password ' +
  '("/" as %2F, "@" as %40, ":" as %3A, "?" as %3F, "#" as %23, "%" as %25).';

/**
 * Parse a bus URL. A comma-separated host list in the authority (common for Kafka and NATS
 * clusters) is not a WHATWG URL, so it is split off: the URL keeps the first host and `hosts`
 * lists all of them.
 *
 * Errors show the input only through redactUrl and carry no cause: Node's URL TypeError keeps
 * the raw input (password included) in its `input` property, which loggers print.
 */
export function parseBusUrl(input: string | URL): ParsedBusUrl {
  if (input instanceof URL) return { url: input, hosts: input.host ? [input.host] : [] };
  if (typeof input !== 'string' || input.length === 0) {
    throw new ConfigurationError('No broker URL given. Pass createBus({ url: "memory://" }) or set SWITCHYARD_URL, e.g. amqp://user:pass@host:5672.');
  }
  let text = input;
  let hosts: string[] | undefined;
  const parts = AUTHORITY.exec(input);
  if (parts && parts[2]!.includes(',')) {
    const authority = parts[2]!;
    const at = authority.lastIndexOf('@');
    const userInfo = at >= 0 ? authority.slice(0, at + 1) : '';
    hosts = authority
      .slice(at + 1)
      .split(',')
      .map((h) => h.trim());
    if (hosts.some((h) => h === '')) throw new ConfigurationError(`"${redactUrl(input)}" has an empty host in its host list. Use scheme://host1:port,host2:port.`);
    text = `${parts[1]}${userInfo}${hosts[0]}${parts[3]}`;
  }
  const url = tryUrl(text);
  if (url === undefined) throw new ConfigurationError(`"${redactUrl(input)}" is not a valid URL. ${URL_SHAPE_HINT}`);
  for (const host of hosts?.slice(1) ?? []) {
    if (tryUrl(`${parts![1]}${host}`) === undefined) {
      throw new ConfigurationError(
        `Host "${redactHosts(host)}" in "${redactUrl(input)}" is not a valid host[:port] (the port must be a number up to 65535). Use scheme://host1:port,host2:port.`,
      );
    }
  }
  return { url, hosts: hosts ?? (url.host ? [url.host] : []) };
}

function tryUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

export async function createTransport(url: URL, context: TransportContext): Promise<Transport> {
  const scheme = url.protocol.replace(/:$/, '');
  const factory = registered.get(scheme) ?? builtIn.get(scheme) ?? (await importAdapter(scheme));
  return factory(url, context);
}

interface AdapterModule {
  createTransport?: TransportFactory;
}

async function importAdapter(scheme: string): Promise<TransportFactory> {
  const planned = ADAPTER_PACKAGES[scheme] === undefined ? PLANNED_ADAPTERS[scheme] : undefined;
  const pkg = ADAPTER_PACKAGES[scheme] ?? planned;
  if (pkg === undefined) {
    const known = ['memory', ...Object.keys(ADAPTER_PACKAGES), ...Object.keys(PLANNED_ADAPTERS), ...registered.keys()].map((s) => `${s}://`).join(', ');
    throw new ConfigurationError(`Unknown URL scheme "${scheme}://". Known schemes: ${known}. Custom adapters call registerTransport("${scheme}", factory) first.`);
  }
  let mod: AdapterModule;
  try {
    mod = (await import(pkg)) as AdapterModule;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && planned !== undefined) {
      throw new ConfigurationError(
        `The ${scheme}:// transport is planned as ${pkg}, which is not released yet. Use another broker for now, or your own adapter: registerTransport("${scheme}", factory).`,
        { cause: err },
      );
    }
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new ConfigurationError(`The ${scheme}:// transport lives in ${pkg}, which is not installed. Run: npm install ${pkg}`, { cause: err });
    }
    throw new ConfigurationError(`Loading ${pkg} for ${scheme}:// failed: ${(err as Error).message}`, { cause: err });
  }
  if (typeof mod.createTransport !== 'function') {
    throw new ConfigurationError(`${pkg} does not export createTransport(); install a version that matches @switchyard/core.`);
  }
  return mod.createTransport;
}
