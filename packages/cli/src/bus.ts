import { createBus, silentLogger, type Bus } from '@switchyard/core';

/** The CLI's bus: its own service name, no logging of its own (errors reach the user as typed errors). */
export function openBus(url: string): Promise<Bus> {
  return createBus({ url, service: 'switchyard-cli', logger: silentLogger });
}
