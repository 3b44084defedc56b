#!/usr/bin/env node
/**
 * Publishable packages: one place that says what every published package.json must hold, so a
 * new adapter gets the same treatment as the others.
 *
 *   node scripts/packages.mjs            list the publishable workspaces (dir and name), one a line
 *   node scripts/packages.mjs --check    exit 1 listing every package that is not publish-ready
 *   node scripts/packages.mjs --write    fix them (package.json fields, LICENSE copy), then check
 *
 * Publishable = a workspace under packages/, adapters/ or conformance without "private": true.
 * Each gets: license MIT and a copy of the root LICENSE; repository (with its directory),
 * homepage and bugs from the root package.json; publishConfig.access public; sideEffects false;
 * files = dist, src (the source maps and declaration maps point into it), README.md, LICENSE
 * (plus any extra folders it already shipped, e.g. migrations); an exports map whose conditions
 * end in "default" (not "import"), so Node >= 20.19 can require() these ESM packages; and a
 * prepack script that empties dist and builds, so `npm pack` never ships a stale or missing dist.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync, copyFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const CLEAN = `node -e "require('node:fs').rmSync('dist',{recursive:true,force:true})"`;
const BASE_FILES = ['dist', 'src', 'README.md', 'LICENSE'];

/** Publishable workspaces in build order (core first: the others build against its dist). */
export function publishable() {
  const dirs = [];
  for (const parent of ['packages', 'adapters']) {
    if (!existsSync(join(root, parent))) continue;
    for (const d of readdirSync(join(root, parent)).sort()) dirs.push(`${parent}/${d}`);
  }
  dirs.push('conformance');
  const out = [];
  for (const dir of dirs) {
    const file = join(root, dir, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8'));
    if (pkg.private) continue;
    out.push({ dir, name: pkg.name, pkg });
  }
  out.sort((a, b) => (a.name === '@switchyard/core' ? -1 : b.name === '@switchyard/core' ? 1 : 0));
  return out;
}

function rootMeta() {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  return { repository: pkg.repository, homepage: pkg.homepage, bugs: pkg.bugs };
}

/** The exports map with every "import" condition renamed "default" (types stay first). */
function requireableExports(exports) {
  if (typeof exports !== 'object' || exports === null) return exports;
  const out = {};
  for (const [key, value] of Object.entries(exports)) {
    if (key === 'import' && !('default' in exports)) out.default = value;
    else out[key] = typeof value === 'object' ? requireableExports(value) : value;
  }
  return out;
}

/** What this package.json should be (same key order as far as it goes, new keys where npm puts them). */
export function expected({ dir, pkg }) {
  const meta = rootMeta();
  const files = [...BASE_FILES, ...(pkg.files ?? []).filter((f) => !BASE_FILES.includes(f))];
  const want = {
    license: 'MIT',
    repository: { ...meta.repository, directory: dir },
    homepage: `${meta.homepage.replace(/#.*$/, '')}/tree/main/${dir}#readme`,
    bugs: meta.bugs,
    publishConfig: { ...(pkg.publishConfig ?? {}), access: 'public' },
    sideEffects: false,
    exports: requireableExports(pkg.exports),
    files,
    scripts: { ...pkg.scripts, clean: CLEAN, prepack: 'npm run clean && npm run build' },
  };
  const out = {};
  const order = [
    'name',
    'version',
    'description',
    'type',
    'license',
    'repository',
    'homepage',
    'bugs',
    'engines',
    'sideEffects',
    'main',
    'types',
    'exports',
    'files',
    'publishConfig',
  ];
  for (const key of order) if (key in want || key in pkg) out[key] = key in want ? want[key] : pkg[key];
  for (const key of Object.keys(pkg)) if (!(key in out)) out[key] = key in want ? want[key] : pkg[key];
  return out;
}

export function problems(entry) {
  const found = [];
  const want = expected(entry);
  for (const [key, value] of Object.entries(want)) {
    if (JSON.stringify(entry.pkg[key]) !== JSON.stringify(value)) found.push(`${entry.dir}/package.json: "${key}" should be ${JSON.stringify(value)}`);
  }
  const license = join(root, entry.dir, 'LICENSE');
  if (!existsSync(license) || readFileSync(license, 'utf8') !== readFileSync(join(root, 'LICENSE'), 'utf8')) found.push(`${entry.dir}/LICENSE: missing or not the root LICENSE`);
  return found;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const mode = process.argv[2];
  if (mode === '--write') {
    for (const entry of publishable()) {
      writeFileSync(join(root, entry.dir, 'package.json'), `${JSON.stringify(expected(entry), null, 2)}\n`);
      copyFileSync(join(root, 'LICENSE'), join(root, entry.dir, 'LICENSE'));
    }
  }
  if (mode === '--check' || mode === '--write') {
    const found = publishable().flatMap(problems);
    for (const line of found) console.error(line);
    if (found.length) {
      console.error(`\n${found.length} problem(s). Fix with: node scripts/packages.mjs --write`);
      process.exit(1);
    }
    console.log(`${publishable().length} publishable packages, all publish-ready.`);
  } else {
    for (const { dir, name } of publishable()) console.log(`${dir}\t${name}`);
  }
}
