/**
 * The SPI promises core that a delivery is settled exactly once, and core may race a settlement
 * against a consumer closing. Adapters build their Delivery through this so the guard lives in
 * one place: the first of ack/nack/abandon wins, later calls are no-ops, and extend() reports
 * false once the delivery is settled.
 */
import type { Delivery, WireMessage } from '../spi.js';

export interface DeliveryParts {
  readonly message: WireMessage;
  readonly deliveryCount: number;
  readonly brokerId?: string;
  ack(): Promise<void> | void;
  nack(options: { delayMs: number }): Promise<void> | void;
  abandon(): Promise<void> | void;
  extend?(ms: number): Promise<boolean>;
}

export function settleOnce(parts: DeliveryParts): Delivery & { readonly settled: boolean } {
  let settled = false;
  const first =
    <A extends unknown[]>(fn: (...args: A) => Promise<void> | void) =>
    async (...args: A): Promise<void> => {
      if (settled) return;
      settled = true;
      await fn(...args);
    };
  const { extend } = parts;
  return {
    message: parts.message,
    deliveryCount: parts.deliveryCount,
    ...(parts.brokerId !== undefined ? { brokerId: parts.brokerId } : {}),
    get settled() {
      return settled;
    },
    ack: first(() => parts.ack()),
    nack: first((options: { delayMs: number }) => parts.nack(options)),
    abandon: first(() => parts.abandon()),
    ...(extend ? { extend: async (ms: number) => !settled && (await extend(ms)) } : {}),
  };
}
