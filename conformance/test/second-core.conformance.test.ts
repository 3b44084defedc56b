/**
 * Two copies of @switchyard/core in one app, as npm nests them after a version bump. First run:
 * this suite and the bus use one copy, the transport (an adapter with its own nested copy) the
 * other. Second run: the bus itself comes from the other copy, so every error the suite checks
 * (ValidationError, ClosedError, ...) is the other copy's class. Every case must still hold.
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createBus, silentLogger } from '@switchyard/core';
import { runConformance } from '../src/index.js';

type Spi = typeof import('@switchyard/core/spi');
type Core = typeof import('@switchyard/core');

/** The built core, installed again under another version next to its own dependencies. */
async function secondCopyOfCore(): Promise<{ spi: Spi; core: Core }> {
  const root = dirname(fileURLToPath(import.meta.resolve('@switchyard/core/package.json')));
  const modules = join(mkdtempSync(join(tmpdir(), 'switchyard-second-core-')), 'node_modules');
  const target = join(modules, '@switchyard', 'core');
  cpSync(join(root, 'dist'), join(target, 'dist'), { recursive: true });
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  writeFileSync(join(target, 'package.json'), JSON.stringify({ ...pkg, version: `${pkg.version}-second-copy` }));
  for (const dep of ['zod', '@opentelemetry/api']) {
    const entry = fileURLToPath(import.meta.resolve(dep));
    const from = entry.slice(0, entry.lastIndexOf(`node_modules/${dep}/`) + `node_modules/${dep}`.length);
    cpSync(from, join(modules, dep), { recursive: true });
  }
  const load = async (file: string) => import(pathToFileURL(join(target, 'dist', file)).href);
  return { spi: (await load('spi-entry.js')) as Spi, core: (await load('index.js')) as Core };
}

const other = await secondCopyOfCore();
// Not brokers of their own: reports kept out of the README matrix.
const reportDir = join(tmpdir(), 'switchyard-second-core-reports');

runConformance({
  name: 'memory-transport-from-second-core',
  reportDir,
  createBus: async (service) => {
    const transport = await other.spi.createTransport(new URL(`memory://second-core-a-${process.pid}`), { service, logger: silentLogger });
    return createBus({ transport, service, logger: silentLogger });
  },
});

runConformance({
  name: 'memory-bus-from-second-core',
  reportDir,
  createBus: async (service) => other.core.createBus({ url: `memory://second-core-b-${process.pid}`, service, logger: other.core.silentLogger }),
});
