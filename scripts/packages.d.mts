/** Types for scripts/packages.mjs (used by the packaging test). */
export interface PublishableEntry {
  dir: string;
  name: string;
  pkg: { name: string; version: string; exports?: Record<string, unknown>; [key: string]: unknown };
}
export const root: string;
export function publishable(): PublishableEntry[];
export function expected(entry: PublishableEntry): Record<string, unknown>;
export function problems(entry: PublishableEntry): string[];
