import { runPushVsPull } from './demo.js';

const url = process.env['SWITCHYARD_URL'] ?? 'memory://';
console.log(`Switchyard push vs pull demo on ${url.replace(/\/\/[^@/]*@/, '//***@')}\n`);
try {
  await runPushVsPull({ url, say: (line) => console.log(line) });
} catch (err) {
  console.error(`\nThe demo failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
