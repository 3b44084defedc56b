import { defineContract } from '@switchyard/core';
import { z } from 'zod';

/** The event the order service publishes; the outbox checks bodies against it in the transaction. */
export const shop = defineContract({
  'order.placed': z.object({
    orderId: z.string(),
    customerEmail: z.email(),
    total: z.number().positive(),
  }),
});

export type OrderPlaced = z.infer<(typeof shop)['order.placed']>;
