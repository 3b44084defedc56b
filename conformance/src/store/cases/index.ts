import type { StoreCase } from '../case.js';
import { claimCases } from './claims.js';
import { concurrencyCases } from './concurrency.js';
import { leaseCases } from './leases.js';
import { outageCases } from './outage.js';
import { resultCases } from './results.js';

export const allStoreCases: readonly StoreCase[] = [...claimCases, ...leaseCases, ...resultCases, ...concurrencyCases, ...outageCases];
