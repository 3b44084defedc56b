#!/usr/bin/env node
/**
 * Regenerates the README's broker matrix from the conformance reports that every conformance
 * run writes to conformance-reports/<name>.json. Usage: npm run matrix [-- --check]
 * --check exits 1 when the README is out of date instead of rewriting it.
 * A column whose report is missing (a unit-only run writes only the memory reports) is kept as the
 * README has it, and the output says which columns were kept.
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

// Each column as cells keyed by row: the summary table by its label, the details table by case id.
const fresh = reports.map((r) => {
  const summary = new Map([['conformance', `${r.summary.pass} ✅ ${r.summary.fail ? `${r.summary.fail} ❌ ` : ''}${r.summary.na ? `${r.summary.na} n/a` : ''}`.trim()]]);
  for (const [key, label] of capabilityRows) summary.set(label, cell(r.capabilities, key));
  const details = new Map(r.cases.map((c) => [`\`${c.id}\``, c.status === 'pass' ? '✅' : c.status === 'fail' ? '❌' : `n/a: ${c.reason}`]));
  return { name: r.name, summary, details };
});

const readmePath = process.env.SWITCHYARD_MATRIX_README ?? join(root, 'README.md'); // override: tests
const readme = readFileSync(readmePath, 'utf8');
const start = '<!-- matrix:start -->';
const end = '<!-- matrix:end -->';

// A column in the README whose report is missing (e.g. after a unit-only run, which writes only
// the memory reports) is kept as it is: the matrix never loses a broker it cannot refresh.
const kept = parseMatrix(readme).filter((c) => !fresh.some((f) => f.name === c.name));
const columns = [...fresh, ...kept].sort((a, b) => rank(a.name) - rank(b.name) || a.name.localeCompare(b.name));

const summaryRows = ['conformance', ...capabilityRows.map(([, label]) => label)];
const caseRows = [...new Set(columns.flatMap((c) => [...c.details.keys()]))].sort((a, b) => (a.slice(1, -1) < b.slice(1, -1) ? -1 : 1)); // by id, as before (ids are in backticks)
const lines = [];
const header = `| | ${columns.map((c) => `**${c.name}**`).join(' | ')} |`;
const rule = `| --- | ${columns.map(() => ':---:').join(' | ')} |`;
lines.push(header, rule);
for (const row of summaryRows) lines.push(`| ${row} | ${columns.map((c) => c.summary.get(row) ?? ' ').join(' | ')} |`);
lines.push('');
lines.push('<details><summary>Every case</summary>', '');
lines.push(header, rule);
for (const row of caseRows) lines.push(`| ${row} | ${columns.map((c) => c.details.get(row) ?? ' ').join(' | ')} |`);
lines.push('', '</details>');

/** The columns of the matrix now in the README: [{ name, summary: Map(label → cell), details: Map(case → cell) }]. */
function parseMatrix(text) {
  const block = new RegExp(`${start}([\\s\\S]*?)${end}`).exec(text)?.[1] ?? '';
  const cols = [];
  let table = -1;
  for (const line of block.split('\n')) {
    if (!line.startsWith('|') || line.startsWith('| ---')) continue;
    const cells = line
      .slice(1, -1)
      .split(' | ')
      .map((x) => x.trim());
    if (cells[0] === '') {
      // A header row: | | **memory** | **kafka** | ... — the first starts the summary, the second the details.
      table += 1;
      if (table === 0) for (const name of cells.slice(1)) cols.push({ name: name.replace(/^\*\*|\*\*$/g, ''), summary: new Map(), details: new Map() });
      continue;
    }
    cols.forEach((c, i) => {
      const value = cells[i + 1] ?? '';
      if (value !== '') (table === 0 ? c.summary : c.details).set(cells[0], value);
    });
  }
  return cols;
}

const next = readme.replace(new RegExp(`${start}[\\s\\S]*?${end}`), `${start}\n${lines.join('\n')}\n${end}`);
if (process.argv.includes('--check')) {
  if (next !== readme) {
    console.error('README broker matrix is out of date: run npm run matrix.');
    process.exit(1);
  }
} else {
  writeFileSync(readmePath, next);
  console.log(`README matrix updated from ${reports.length} report(s): ${reports.map((r) => r.name).join(', ')}`);
  if (kept.length) {
    console.log(`Kept as they were (no report in ${reportDir}): ${kept.map((c) => c.name).join(', ')}. Run their conformance suites (npm test) to refresh them.`);
  }
}
