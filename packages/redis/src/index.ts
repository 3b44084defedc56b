/**
 * @switchyard/redis — an idempotency store on Redis for every instance of a service:
 *
 *   const store = redisIdempotencyStore({ url: process.env.REDIS_URL! });
 *   await bus.subscribe('order.placed', handler, { idempotency: { store } });
 */
export { redisIdempotencyStore, type RedisIdempotencyStore, type RedisIdempotencyStoreOptions } from './store.js';
export type { RedisCommandClient } from './client.js';
