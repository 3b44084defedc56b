/**
 * The lowest @opentelemetry/api core declares (peerDependencies: >=1.3.0) really works: an app
 * whose only api copy is 1.3.0 gets Switchyard's spans from its SDK. The app is assembled in a
 * temp dir whose node_modules holds api 1.3.0 (the `@opentelemetry/api-floor` alias) and links
 * to the built core and the SDK packages; `--preserve-symlinks` makes every one of them resolve
 * `@opentelemetry/api` there, as a single hoisted copy in an app would.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';

const coreDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const modules = resolve(coreDir, '../../node_modules');
const app = mkdtempSync(join(tmpdir(), 'switchyard-api-floor-'));
afterAll(() => rmSync(app, { recursive: true, force: true }));

function link(name: string, target: string): void {
  const at = join(app, 'node_modules', name);
  mkdirSync(dirname(at), { recursive: true });
  symlinkSync(target, at, 'dir');
}

const APP = `
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { createBus, silentLogger } from '@switchyard/core';

const exporter = new InMemorySpanExporter();
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
propagation.setGlobalPropagator(new W3CTraceContextPropagator());
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));

const bus = await createBus({ url: 'memory://floor', service: 'floor', logger: silentLogger });
let handled;
const done = new Promise((resolve) => { handled = resolve; });
await bus.subscribe('floor.topic', () => handled());
await bus.publish('floor.topic', { n: 1 });
await done;
await bus.close();
const spans = exporter.getFinishedSpans().map((s) => ({ name: s.name, id: s.spanContext().spanId, parent: s.parentSpanContext?.spanId, links: s.links.length }));
const api = globalThis[Symbol.for('opentelemetry.js.api.1')];
console.log(JSON.stringify({ apiVersion: api?.version, spans }));
`;

it('an app on @opentelemetry/api 1.3.0 gets send and process spans', () => {
  if (!existsSync(join(coreDir, 'dist/index.js'))) throw new Error('packages/core/dist is missing: run `npm run build` first.');
  // One api copy per app: core takes the app's as a peer, from the floor tested here.
  const manifest = JSON.parse(readFileSync(join(coreDir, 'package.json'), 'utf8'));
  expect(manifest.dependencies?.['@opentelemetry/api']).toBeUndefined();
  expect(manifest.peerDependencies['@opentelemetry/api']).toBe('>=1.3.0 <2');
  const floorVersion = JSON.parse(readFileSync(join(modules, '@opentelemetry/api-floor/package.json'), 'utf8')).version;
  expect(floorVersion).toBe('1.3.0');
  link('@opentelemetry/api', join(modules, '@opentelemetry/api-floor'));
  link('@switchyard/core', coreDir);
  link('zod', join(modules, 'zod'));
  for (const sdk of ['context-async-hooks', 'core', 'resources', 'sdk-trace-base', 'sdk-trace', 'semantic-conventions']) {
    if (existsSync(join(modules, '@opentelemetry', sdk))) link(`@opentelemetry/${sdk}`, join(modules, '@opentelemetry', sdk));
  }
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'floor-app', type: 'module', private: true }));
  writeFileSync(join(app, 'app.mjs'), APP);
  const output = execFileSync(process.execPath, ['--preserve-symlinks', '--preserve-symlinks-main', 'app.mjs'], { cwd: app, encoding: 'utf8' });
  const result = JSON.parse(output.trim().split('\n').pop()!) as { apiVersion: string; spans: { name: string; id: string; parent?: string; links: number }[] };
  expect(result.apiVersion).toBe('1.3.0');
  const send = result.spans.find((s) => s.name === 'send floor.topic');
  const processSpan = result.spans.find((s) => s.name === 'process floor.topic');
  expect(send).toBeDefined();
  expect(processSpan?.parent).toBe(send?.id);
  expect(processSpan?.links).toBe(1);
});
