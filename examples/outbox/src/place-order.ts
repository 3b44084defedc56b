/**
 * One order from the command line, in its own process:
 *   node dist/place-order.js <orderId> <email> <total> [--crash-after-commit]
 * With --crash-after-commit the process SIGKILLs itself right after COMMIT, before its relay
 * could publish: the crash the outbox exists for. Another instance's relay sends the event.
 */
import { OrderService } from './order-service.js';

const [orderId, customerEmail, total] = process.argv.slice(2);
const crash = process.argv.includes('--crash-after-commit');
if (!orderId || !customerEmail || !total) {
  console.error('usage: place-order <orderId> <email> <total> [--crash-after-commit]');
  process.exit(2);
}
const service = await OrderService.open({
  postgresUrl: process.env['SWITCHYARD_POSTGRES_URL'] ?? 'postgres://switchyard:switchyard@127.0.0.1:5432/switchyard',
  busUrl: process.env['SWITCHYARD_URL'] ?? 'memory://',
  prefix: process.env['SHOP_PREFIX'] ?? 'shop',
  relay: !crash, // the crashing instance dies before its relay would run
});
const { eventId } = await service.placeOrder({ orderId, customerEmail, total: Number(total) }, (id) => {
  if (!crash) return;
  console.log(`committed ${orderId} ${id}`);
  process.kill(process.pid, 'SIGKILL');
});
console.log(`committed ${orderId} ${eventId}`);
await service.close();
