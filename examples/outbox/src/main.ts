import { runOutboxDemo } from './demo.js';

const postgresUrl = process.env['SWITCHYARD_POSTGRES_URL'] ?? 'postgres://switchyard:switchyard@127.0.0.1:5432/switchyard';
const busUrl = process.env['SWITCHYARD_URL'] ?? 'memory://outbox-demo';
console.log('Switchyard transactional outbox demo (needs PostgreSQL: scripts/brokers up postgres, or set SWITCHYARD_POSTGRES_URL)\n');
const timeout = setTimeout(() => {
  console.error('\nThe demo did not finish within 60 s. Are PostgreSQL and the broker reachable?');
  process.exit(1);
}, 60_000);
timeout.unref();
try {
  await runOutboxDemo({ postgresUrl, busUrl, say: (line) => console.log(line) });
} catch (err) {
  console.error(`\nThe demo failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
