// Types of measure.mjs, for the bench's TypeScript tests.
import type { ScenarioResult } from '../index.js';

export type Run = { count: number; seconds: number; rate: number; cpuUsPerMsg: number; p50?: number; p99?: number };
/** Each side's runs in the order they ran: two per repetition. */
export type Runs = { raw: Run[]; switchyard: Run[] };

/** The order of one repetition's runs, then of the next. */
export const ORDERS: readonly (readonly ('raw' | 'switchyard')[])[];
export function median(values: number[]): number;
export function percentile(sortedValues: number[], p: number): number;
export function summarize(scenario: { name: string; key: string; count: number; latency?: boolean }, runs: Runs): ScenarioResult;
