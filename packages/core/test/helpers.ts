import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach } from 'vitest';
import { createBus, silentLogger, type Bus, type Capabilities, type Transport } from '../src/index.js';
import { createMemoryTransport } from '../src/memory/transport.js';

let counter = 0;
/** A unique topic per test. */
export const topic = (label: string) => `t.${label}.${process.pid}.${++counter}`;

/** A bus on its own in-process broker, so tests never see each other's messages. */
export async function memoryBus(service = 'svc', broker = `unit-${++counter}`): Promise<Bus> {
  return createBus({ url: `memory://${broker}`, service, logger: silentLogger });
}

/**
 * The memory transport presenting fewer native capabilities (like Kafka: no nack, emulated delay),
 * so core's in-place retry and emulated-delay paths run against a real queue.
 */
export async function busWithout(caps: Partial<Capabilities>, broker = `unit-${++counter}`, overrides: Partial<Transport> = {}): Promise<Bus> {
  const inner = await createMemoryTransport(new URL(`memory://${broker}`), { service: 'svc', logger: silentLogger });
  const properties: PropertyDescriptorMap = { capabilities: { value: { ...inner.capabilities, ...caps } } };
  for (const [name, value] of Object.entries(overrides)) properties[name] = { value };
  const transport = Object.create(inner, properties) as Transport;
  return createBus({ transport, service: 'svc', logger: silentLogger });
}

export function waitFor<T>(items: T[], n: number, timeoutMs = 5000): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const check = () => {
      if (items.length >= n) return resolve(items);
      if (Date.now() - started > timeoutMs) return reject(new Error(`expected ${n} items, got ${items.length}`));
      setImmediate(check);
    };
    check();
  });
}

/**
 * Buses a test file creates, closed after each test: `const track = closeAfterEach();` then
 * `const bus = track(await memoryBus());`.
 */
export function closeAfterEach(drainTimeoutMs = 1000): <B extends Pick<Bus, 'close'>>(bus: B) => B {
  // Pick<Bus, 'close'>: a Bus<Contract> is not a Bus (its contract types differ), but closes the same.
  const buses: Pick<Bus, 'close'>[] = [];
  afterEach(async () => {
    await Promise.all(buses.splice(0).map((b) => b.close({ drainTimeoutMs })));
  });
  return (bus) => {
    buses.push(bus);
    return bus;
  };
}

/**
 * The built core (dist) installed on its own in a temp dir, as npm would place a copy: with its
 * dependencies (zod, @opentelemetry/api) but none of the adapter packages, under `version`.
 */
export async function installedCoreCopy(version: string): Promise<{ core: typeof import('../src/index.js'); spi: typeof import('../src/spi-entry.js') }> {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-core-copy-'));
  const target = join(dir, 'node_modules', '@switchyard', 'core');
  const root = join(import.meta.dirname, '..');
  cpSync(join(root, 'dist'), join(target, 'dist'), { recursive: true });
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  writeFileSync(join(target, 'package.json'), JSON.stringify({ ...pkg, version }));
  cpSync(join(root, '..', '..', 'node_modules', 'zod'), join(dir, 'node_modules', 'zod'), { recursive: true });
  cpSync(join(root, '..', '..', 'node_modules', '@opentelemetry'), join(dir, 'node_modules', '@opentelemetry'), { recursive: true });
  const load = (file: string) => import(pathToFileURL(join(target, 'dist', file)).href);
  return { core: await load('index.js'), spi: await load('spi-entry.js') };
}
