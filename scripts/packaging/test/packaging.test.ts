/**
 * What a user gets from npm: every publishable package packed with `npm pack` (its prepack
 * empties dist and builds), checked with publint and @arethetypeswrong/cli, installed from the
 * tarballs into a fresh app in a temp dir outside the repo (third-party dependencies from the
 * registry), then used: the README quick start compiled with `tsc --strict` and run on memory://,
 * a CommonJS consumer type-checked by tsc and run with require(), every package require()d, and
 * the error for an adapter that is not installed.
 *
 * One pack + one install for the whole file (beforeAll); the checks reuse them.
 */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PublishableEntry, problems, publishable, root } from '../../packages.mjs';

const entries: PublishableEntry[] = publishable();
const repo = root;
const work = mkdtempSync(join(tmpdir(), 'switchyard-packaging-'));
const tarballDir = join(work, 'tarballs');
const app = join(work, 'app');
const tarballs = new Map<string, string>();
const timings: string[] = [];

/** The environment npm and node get: none of the npm_* variables of the `npm test` that runs us (they would point npm at the workspace). */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!/^npm_/i.test(key) && key !== 'SWITCHYARD_URL' && key !== 'NODE_OPTIONS') env[key] = value;
  return { ...env, ...extra };
}

function run(command: string, args: string[], options: SpawnSyncOptions & { expectFail?: boolean } = {}): { stdout: string; stderr: string; status: number | null } {
  const result = spawnSync(command, args, { encoding: 'utf8', env: cleanEnv(), maxBuffer: 64 * 1024 * 1024, timeout: 300_000, ...options });
  const out = { stdout: String(result.stdout ?? ''), stderr: String(result.stderr ?? ''), status: result.status };
  if (result.error) throw result.error;
  if (!options.expectFail && out.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} (in ${String(options.cwd ?? repo)}) exited ${out.status}\n${out.stdout}\n${out.stderr}`);
  }
  return out;
}

function timed<T>(label: string, fn: () => T): T {
  const started = Date.now();
  try {
    return fn();
  } finally {
    timings.push(`${label} ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
}

function installedDir(name: string): string {
  return join(app, 'node_modules', ...name.split('/'));
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile());
}

function version(pkg: string): string {
  return (JSON.parse(readFileSync(join(repo, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
}

/** The first ```ts block under "## Quick start" in the root README, as written. */
function quickStart(): string {
  const readme = readFileSync(join(repo, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Quick start'));
  const match = /```ts\n([\s\S]*?)```/.exec(section);
  if (!match) throw new Error('README.md has no ```ts block under "## Quick start"');
  return match[1]!;
}

beforeAll(() => {
  expect(relative(repo, work).startsWith('..')).toBe(true); // the app must not sit inside the workspace
  mkdirSync(tarballDir);
  mkdirSync(app);
  // core first (it cleans and rebuilds its dist; the others build against it), then the rest in one npm call.
  const core = entries.find((e) => e.name === '@switchyard/core')!;
  const rest = entries.filter((e) => e !== core);
  timed('npm pack (prepack: clean + build)', () => {
    run('npm', ['pack', '--pack-destination', tarballDir, '-w', core.name], { cwd: repo });
    run('npm', ['pack', '--pack-destination', tarballDir, ...rest.flatMap((e) => ['-w', e.name])], { cwd: repo });
  });
  for (const e of entries) {
    const file = join(tarballDir, `${e.name.replace(/^@/, '').replace('/', '-')}-${e.pkg.version}.tgz`);
    expect(existsSync(file), `${file} was not packed`).toBe(true);
    tarballs.set(e.name, file);
  }
  writeFileSync(join(app, 'package.json'), `${JSON.stringify({ name: 'switchyard-packaging-app', private: true, type: 'module' }, null, 2)}\n`);
  timed('npm install (tarballs + registry deps)', () =>
    run(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        '--loglevel=error',
        ...tarballs.values(),
        `typescript@${version('typescript')}`,
        `@types/node@${version('@types/node')}`,
        // An optional peer of @switchyard/conformance, which its ./cloudevents subpath needs (as a user of it installs).
        `cloudevents@${version('cloudevents')}`,
      ],
      { cwd: app },
    ),
  );
}, 600_000);

afterAll(() => {
  console.log(`packaging: ${timings.join(', ')}`);
  if (!process.env.SWITCHYARD_KEEP_PACKAGING_APP) rmSync(work, { recursive: true, force: true });
  else console.log(`packaging app kept in ${work}`);
});

describe('publishable packages', () => {
  it('are publish-ready by scripts/packages.mjs (LICENSE, metadata, exports, prepack)', () => {
    expect(entries.flatMap((e) => problems(e))).toEqual([]);
    expect(entries.map((e) => e.name)).toContain('@switchyard/core');
  });

  it.each(entries.map((e) => [e.name]))('%s ships LICENSE, README, a built dist and no tests', (name) => {
    const dir = installedDir(name);
    const files = filesUnder(dir).map((f) => relative(dir, f));
    expect(files).toContain('LICENSE');
    expect(readFileSync(join(dir, 'LICENSE'), 'utf8')).toBe(readFileSync(join(repo, 'LICENSE'), 'utf8'));
    expect(files).toContain('README.md');
    expect(files).toContain('dist/index.js');
    expect(files).toContain('dist/index.d.ts');
    expect(files.filter((f) => /(^|\/)test\/|\.test\.|tsbuildinfo|vitest\.config/.test(f))).toEqual([]);
  });

  it.each(entries.map((e) => [e.name]))('%s: every source map and declaration map points at files in the package', (name) => {
    const dir = installedDir(name);
    const broken: string[] = [];
    for (const map of filesUnder(dir).filter((f) => f.endsWith('.map'))) {
      const json = JSON.parse(readFileSync(map, 'utf8')) as { sources: string[]; sourceRoot?: string; sourcesContent?: (string | null)[] };
      json.sources.forEach((source, i) => {
        if (json.sourcesContent?.[i]) return;
        const target = resolve(dirname(map), json.sourceRoot ?? '', source);
        if (!target.startsWith(dir) || !existsSync(target)) broken.push(`${relative(dir, map)} → ${source}`);
      });
    }
    expect(broken).toEqual([]);
  });

  it.each(entries.map((e) => [e.name]))('%s: publint --strict has nothing to say', async (name) => {
    const tarball = readFileSync(tarballs.get(name)!);
    const { messages, pkg } = await publint({
      pack: { tarball: tarball.buffer.slice(tarball.byteOffset, tarball.byteOffset + tarball.byteLength) as ArrayBuffer },
      level: 'suggestion',
      strict: true,
    });
    expect(messages.map((m) => `${m.type}: ${formatMessage(m, pkg) ?? m.code}`)).toEqual([]);
  });

  // node16 profile: node10 resolution (TypeScript's legacy "node" mode) cannot read exports maps,
  // so subpaths like @switchyard/core/spi cannot resolve there; these packages need Node >= 20.19.
  // cjs-resolves-to-esm: require() of these ESM packages is what Node >= 20.19 and TypeScript >= 5.8
  // (module nodenext) allow; attw 0.18 still flags it, so the CommonJS consumer below proves it works.
  it.each(entries.map((e) => [e.name]))('%s: @arethetypeswrong/cli is clean (profile node16)', (name) => {
    const result = run(join(repo, 'node_modules/.bin/attw'), [tarballs.get(name)!, '--profile', 'node16', '--ignore-rules', 'cjs-resolves-to-esm', '--no-color', '--no-emoji'], {
      expectFail: true,
    });
    expect(result.status, result.stdout + result.stderr).toBe(0);
  });
});

describe('a fresh app with the tarballs installed', () => {
  it('compiles the README quick start with tsc --strict and runs it on memory://', () => {
    const dir = join(app, 'quickstart');
    mkdirSync(dir);
    writeFileSync(join(dir, 'quickstart.ts'), quickStart());
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { strict: true, target: 'ES2022', module: 'nodenext', moduleResolution: 'nodenext', outDir: 'out', types: ['node'], skipLibCheck: false },
        include: ['quickstart.ts'],
      }),
    );
    timed('tsc quick start', () => run(join(app, 'node_modules/.bin/tsc'), ['-p', dir, '--strict'], { cwd: dir }));
    const result = run(process.execPath, [join(dir, 'out/quickstart.js')], { cwd: dir, timeout: 30_000 });
    expect(result.stderr).toBe('');
  });

  it('type-checks a CommonJS consumer with tsc (module nodenext) and runs it with require()', () => {
    const dir = join(app, 'cjs');
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'consumer.cts'),
      [
        "import { createBus, pinoLogger, type Message } from '@switchyard/core';",
        "import { ADAPTER_PACKAGES } from '@switchyard/core/spi';",
        '',
        'interface Order { orderId: string }',
        '',
        'async function main(): Promise<void> {',
        "  const bus = await createBus({ url: 'memory://', service: 'cjs' });",
        '  let done: (orderId: string) => void = () => {};',
        '  const received = new Promise<string>((resolve) => {',
        '    done = resolve;',
        '  });',
        "  await bus.subscribe<Order>('order.placed', async (msg: Message<Order>) => done(msg.body.orderId));",
        "  await bus.publish('order.placed', { orderId: 'o-1' });",
        '  const orderId = await received;',
        '  await bus.close();',
        "  console.log(JSON.stringify({ orderId, pinoLogger: typeof pinoLogger, amqp: ADAPTER_PACKAGES['amqp'] }));",
        '}',
        '',
        'main().catch((err: unknown) => {',
        '  console.error(err);',
        '  process.exitCode = 1;',
        '});',
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { strict: true, target: 'ES2022', module: 'nodenext', moduleResolution: 'nodenext', outDir: 'out', types: ['node'], skipLibCheck: false },
        include: ['consumer.cts'],
      }),
    );
    run(join(app, 'node_modules/.bin/tsc'), ['-p', dir], { cwd: dir });
    const emitted = readFileSync(join(dir, 'out/consumer.cjs'), 'utf8');
    expect(emitted).toContain('require("@switchyard/core")');
    const result = run(process.execPath, [join(dir, 'out/consumer.cjs')], { cwd: dir, timeout: 30_000 });
    expect(result.stdout, result.stderr).not.toBe('');
    expect(JSON.parse(result.stdout)).toEqual({ orderId: 'o-1', pinoLogger: 'function', amqp: '@switchyard/amqp' });
  });

  it('require()s every package and subpath from plain CommonJS', () => {
    const specifiers = entries.flatMap((e) => [
      e.name,
      ...Object.keys(e.pkg.exports ?? {})
        .filter((k) => k !== '.' && !k.includes('*') && !k.endsWith('.json'))
        .map((k) => `${e.name}${k.slice(1)}`),
    ]);
    const script = join(app, 'require-all.cjs');
    writeFileSync(script, `const out = {};\nfor (const id of ${JSON.stringify(specifiers)}) out[id] = Object.keys(require(id)).length;\nconsole.log(JSON.stringify(out));\n`);
    const result = run(process.execPath, [script], { cwd: app, timeout: 60_000 });
    const counts = JSON.parse(result.stdout) as Record<string, number>;
    expect(Object.keys(counts).sort()).toEqual([...specifiers].sort());
    for (const [id, count] of Object.entries(counts)) expect(count, `${id} exports nothing`).toBeGreaterThan(0);
  });

  it('runs the switchyard command of @switchyard/cli from the app: health, a conformance case through vitest, the built-in bench', () => {
    const bin = join(app, 'node_modules', '.bin', 'switchyard');
    const health = run(bin, ['health', 'memory://', '--json'], { cwd: app, timeout: 60_000 });
    expect(JSON.parse(health.stdout)).toMatchObject({ ok: true, transport: 'memory' });
    const report = join(work, 'cli-conformance.json');
    const conformance = run(bin, ['conformance', 'memory://', '--only', 'delivery.binary', '--report', report], { cwd: app, timeout: 120_000 });
    expect(conformance.stdout).toMatch(/^pass +delivery\.binary$/m);
    expect(JSON.parse(readFileSync(report, 'utf8')).summary).toEqual({ pass: 1, fail: 0, na: 0, total: 1 });
    // No bench harness in an app (it is the repository's private workspace): the built-in run.
    const bench = run(bin, ['bench', 'memory://', '--scale', '0.01'], { cwd: app, timeout: 60_000 });
    for (const label of ['publish (confirmed, 64 in flight)', 'publish → handler (concurrency 16)', 'request/reply (16 in flight)']) {
      expect(bench.stdout).toMatch(new RegExp(`^${label.replace(/[()→]/g, '.')} +\\d+ in +[\\d.]+ s +[\\d,]+ /s$`, 'm'));
    }
  });

  it('tells the user to npm install a published adapter that the app lacks', () => {
    const adapter = installedDir('@switchyard/kafka');
    const aside = join(work, 'kafka-aside');
    renameSync(adapter, aside);
    try {
      const script = join(app, 'missing-adapter.mjs');
      writeFileSync(
        script,
        "import { createBus } from '@switchyard/core';\n" +
          "await createBus({ url: 'kafka://127.0.0.1:1', service: 's' }).then(() => console.log('connected?'), (err) => console.log(JSON.stringify({ code: err.code, message: err.message })));\n",
      );
      const result = run(process.execPath, [script], { cwd: app, timeout: 30_000 });
      expect(JSON.parse(result.stdout)).toEqual({
        code: expect.any(String),
        message: 'The kafka:// transport lives in @switchyard/kafka, which is not installed. Run: npm install @switchyard/kafka',
      });
    } finally {
      renameSync(aside, adapter);
    }
  });
});

describe('what core and the README promise exists', () => {
  const coreSrc = readFileSync(join(repo, 'packages/core/src/registry.ts'), 'utf8');
  const table = (name: string) => {
    const body = new RegExp(`export const ${name}[^=]*= \\{([\\s\\S]*?)\\};`).exec(coreSrc)?.[1] ?? '';
    return [...body.matchAll(/(\w+): '(@switchyard\/[\w-]+)'/g)].map((m) => [m[1]!, m[2]!] as const);
  };
  const names = new Set(entries.map((e) => e.name));

  it("core's ADAPTER_PACKAGES names only packages of this repo; PLANNED_ADAPTERS none", () => {
    expect(table('ADAPTER_PACKAGES').length).toBeGreaterThan(0);
    expect(table('ADAPTER_PACKAGES').filter(([, pkg]) => !names.has(pkg))).toEqual([]);
    expect(table('PLANNED_ADAPTERS').filter(([, pkg]) => names.has(pkg))).toEqual([]);
  });

  it('the README lists as packages only those of this repo', () => {
    const readme = readFileSync(join(repo, 'README.md'), 'utf8');
    const packages = readme.slice(readme.indexOf('## Packages'), readme.indexOf('## Broker matrix'));
    const listed = [...packages.matchAll(/^\| \[`(@switchyard\/[\w-]+)`\]/gm)].map((m) => m[1]!);
    expect(listed.length).toBeGreaterThan(0);
    expect(listed.filter((n) => !names.has(n))).toEqual([]);
  });
});
