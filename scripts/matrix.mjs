#!/usr/bin/env node
/**
 * Regenerates the README's broker matrix from the conformance reports that every conformance
 * run writes to conformance-reports/<name>.json. Usage: npm run matrix [-- --check]
 * --check exits 1 when the README is out of date instead of rewriting it.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const reportDir = process.env.SWITCHYARD_CONFORMANCE_REPORT_DIR ?? join(root, 'conformance-reports');
const order = ['memory', 'memory-leases', 'memory-log', 'memory-limits', 'rabbitmq', 'kafka', 'nats', 'sqs', 'sqs-fifo', 'pubsub'];

if (!existsSync(reportDir)) {
  console.error(`No reports in ${reportDir}. Run npm test (or a conformance suite) first.`);
  process.exit(1);
}
const reports = readdirSync(reportDir)
  .filter((f) => f.endsWith('.json'))
  .map((f) => JSON.parse(readFileSync(join(reportDir, f), 'utf8')))
  .sort((a, b) => rank(a.name) - rank(b.name) || a.name.localeCompare(b.name));
function rank(name) {
  const i = order.indexOf(name);
  return i < 0 ? order.length : i;
}

const capabilityRows = [
  ['persistent', 'survives broker restart'],
  ['consumerGroups', 'competing consumers'],
  ['fanOut', 'fan-out to groups'],
  ['ordering', 'ordering'],
  ['nack', 'broker-side redelivery (nack)'],
  ['redeliveryOnTimeout', 'redelivery after a lease'],
  ['deliveryCount', 'delivery count'],
  ['deadLetter', 'dead-letter'],
  ['requestReply', 'request/reply'],
  ['delay', 'delayed delivery'],
  ['nativeDedup', 'broker drops duplicate ids'],
  ['batchPublish', 'batched publishes'],
  ['maxPayloadBytes', 'max payload'],
  ['maxHeaderValueBytes', 'max header value (effective)'],
  ['maxHeaderBytes', 'max headers in total (effective)'],
  ['noResponders', 'tells "nobody serves this topic"'],
  ['leaseMs', 'lease, extended by core'],
];
const fmt = (v) => (v === true ? '✅' : v === false || v === undefined ? '—' : typeof v === 'number' ? bytes(v) : String(v));
/** A capability's cell: modes with their limits ("delayed ≤ 1 d"), sizes in bytes, leases in ms. */
function cell(caps, key) {
  const v = caps?.[key];
  if (key === 'leaseMs') return v === undefined ? '—' : `${v} ms`;
  if (key === 'nack' && v === 'delayed') return `delayed ≤ ${duration(caps.maxNackDelayMs)}`;
  if (key === 'delay' && v === 'native') return `native ≤ ${duration(caps.maxNativeDelayMs)}`;
  return fmt(v);
}
function duration(ms) {
  const units = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['min', 60_000],
    ['s', 1000],
  ];
  for (const [unit, size] of units) if (ms >= size && ms % size === 0) return `${ms / size} ${unit}`;
  return `${ms} ms`;
}
function bytes(n) {
  return n >= 1 << 20 && n % (1 << 20) === 0 ? `${n / (1 << 20)} MiB` : n >= 1024 && n % 1024 === 0 ? `${n / 1024} KiB` : `${n} B`;
}

const lines = [];
const header = `| | ${reports.map((r) => `**${r.name}**`).join(' | ')} |`;
const rule = `| --- | ${reports.map(() => ':---:').join(' | ')} |`;
lines.push(header, rule);
lines.push(
  `| conformance | ${reports.map((r) => `${r.summary.pass} ✅ ${r.summary.fail ? `${r.summary.fail} ❌ ` : ''}${r.summary.na ? `${r.summary.na} n/a` : ''}`.trim()).join(' | ')} |`,
);
for (const [key, label] of capabilityRows) lines.push(`| ${label} | ${reports.map((r) => cell(r.capabilities, key)).join(' | ')} |`);
lines.push('');
lines.push('<details><summary>Every case</summary>', '');
lines.push(header, rule);
const ids = [...new Set(reports.flatMap((r) => r.cases.map((c) => c.id)))].sort();
for (const id of ids) {
  const cells = reports.map((r) => {
    const c = r.cases.find((x) => x.id === id);
    if (!c) return ' ';
    return c.status === 'pass' ? '✅' : c.status === 'fail' ? '❌' : `n/a: ${c.reason}`;
  });
  lines.push(`| \`${id}\` | ${cells.join(' | ')} |`);
}
lines.push('', '</details>');

const readmePath = join(root, 'README.md');
const readme = readFileSync(readmePath, 'utf8');
const start = '<!-- matrix:start -->';
const end = '<!-- matrix:end -->';
const next = readme.replace(new RegExp(`${start}[\\s\\S]*?${end}`), `${start}\n${lines.join('\n')}\n${end}`);
if (process.argv.includes('--check')) {
  if (next !== readme) {
    console.error('README broker matrix is out of date: run npm run matrix.');
    process.exit(1);
  }
} else {
  writeFileSync(readmePath, next);
  console.log(`README matrix updated from ${reports.length} report(s): ${reports.map((r) => r.name).join(', ')}`);
}
