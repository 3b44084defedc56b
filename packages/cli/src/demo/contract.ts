import { z } from 'zod';
import { defineContract } from '@switchyard/core';

/** The shop's messages, declared once: every service is typed and validated from this. */
export const shop = defineContract({
  'inventory.check': {
    request: z.object({ sku: z.string(), qty: z.number().int().positive() }),
    response: z.object({ sku: z.string(), available: z.boolean(), inStock: z.number().int() }),
  },
  'order.placed': z.object({
    orderId: z.string(),
    customerEmail: z.email(),
    items: z.array(z.object({ sku: z.string(), qty: z.number().int().positive() })).min(1),
    total: z.number().nonnegative(),
  }),
});

export type OrderPlaced = z.infer<(typeof shop)['order.placed']>;
