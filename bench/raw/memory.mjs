/**
 * memory:// anchors: what the same work costs with no broker and no SDK at all.
 *   emitter — JSON + bytes over an EventEmitter: encode, emit, decode, call the handler.
 *   queue   — a minimal async queue: encode, push, `concurrency` workers await the next one, decode, handle.
 * Both implement the Side interface (see scenarios.mjs).
 */
import { EventEmitter } from 'node:events';
import { decode, encode } from '../lib/pool.mjs';

function replies(emitter) {
  const pending = new Map();
  let next = 0;
  emitter.on('$reply', (id, bytes) => {
    const waiter = pending.get(id);
    pending.delete(id);
    waiter?.(decode(bytes));
  });
  return (send, request) =>
    new Promise((resolve) => {
      const id = next++;
      pending.set(id, resolve);
      send(id, encode(request));
    });
}

export function emitterSide() {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  const ask = replies(emitter);
  return {
    label: 'raw',
    async prepare() {},
    publish(topic, body) {
      emitter.emit(topic, encode(body));
      return Promise.resolve();
    },
    async consume(topic, _concurrency, handler) {
      const listener = (bytes) => void handler(decode(bytes));
      emitter.on(topic, listener);
      return async () => void emitter.off(topic, listener);
    },
    async serve(topic, _concurrency, answer) {
      const listener = async (id, bytes) => emitter.emit('$reply', id, encode(await answer(decode(bytes))));
      emitter.on(`${topic}$req`, listener);
      return async () => void emitter.off(`${topic}$req`, listener);
    },
    request: (topic, body) => ask((id, bytes) => emitter.emit(`${topic}$req`, id, bytes), body),
    async close() {},
  };
}

export function queueSide() {
  const queues = new Map();
  const queueOf = (topic) => {
    let q = queues.get(topic);
    if (!q) {
      q = { items: [], waiters: [] };
      queues.set(topic, q);
    }
    return q;
  };
  const push = (topic, item) => {
    const q = queueOf(topic);
    const waiter = q.waiters.shift();
    if (waiter) waiter(item);
    else q.items.push(item);
  };
  const take = (q) => (q.items.length > 0 ? Promise.resolve(q.items.shift()) : new Promise((resolve) => q.waiters.push(resolve)));
  const workers = (topic, concurrency, work) => {
    const q = queueOf(topic);
    let open = true;
    for (let i = 0; i < concurrency; i++) {
      void (async () => {
        while (open) {
          const item = await take(q);
          if (item === STOP) break;
          await work(item);
        }
      })();
    }
    return async () => {
      open = false;
      for (let i = 0; i < concurrency; i++) push(topic, STOP);
    };
  };
  const emitter = new EventEmitter();
  const ask = replies(emitter);
  return {
    label: 'raw',
    async prepare() {},
    publish(topic, body) {
      push(topic, encode(body));
      return Promise.resolve();
    },
    async consume(topic, concurrency, handler) {
      return workers(topic, concurrency, (bytes) => handler(decode(bytes)));
    },
    async serve(topic, concurrency, answer) {
      return workers(`${topic}$req`, concurrency, async ({ id, bytes }) => emitter.emit('$reply', id, encode(await answer(decode(bytes)))));
    },
    request: (topic, body) => ask((id, bytes) => push(`${topic}$req`, { id, bytes }), body),
    async close() {},
  };
}

const STOP = Symbol('stop');
