import type { ConformanceCase } from '../case.js';
import { badInputCases } from './bad-input.js';
import { deliveryCases } from './delivery.js';
import { groupCases } from './groups.js';
import { idempotencyCases } from './idempotency.js';
import { lifecycleCases } from './lifecycle.js';
import { requestReplyCases } from './request-reply.js';
import { settlementCases } from './settlement.js';
import { telemetryCases } from './telemetry.js';
import { volumeCases } from './volume.js';

export const allCases: readonly ConformanceCase[] = [
  ...deliveryCases,
  ...groupCases,
  ...settlementCases,
  ...requestReplyCases,
  ...idempotencyCases,
  ...lifecycleCases,
  ...badInputCases,
  ...volumeCases,
  ...telemetryCases,
];
