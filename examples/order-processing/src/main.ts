import { runOrderDemo } from '@switchyard/cli/demo';

const url = process.env['SWITCHYARD_URL'] ?? 'memory://';
console.log('Switchyard order-processing demo');
console.log('Set SWITCHYARD_URL (e.g. amqp://guest:guest@127.0.0.1:5672 or kafka://127.0.0.1:9092) to run the same code on a real broker.\n');
const timeout = setTimeout(() => {
  console.error('\nThe demo did not finish within 120 s. Is the broker reachable and healthy?');
  process.exit(1);
}, 120_000);
timeout.unref();
try {
  await runOrderDemo({ url, say: (line) => console.log(line) });
} catch (err) {
  console.error(`\nThe demo failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
