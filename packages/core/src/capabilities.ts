/**
 * A transport's declared capabilities, checked once when a bus is created: core decides how to
 * retry, delay and count from them, so a wrong or SPI-v1-shaped declaration (nack: true,
 * deliveryCount: false) must fail loudly instead of steering core the wrong way.
 */
import { ConfigurationError } from './errors.js';
import type { Capabilities } from './types.js';

const oneOf = <T extends string>(value: unknown, allowed: readonly T[]): value is T => allowed.includes(value as T);
const positive = (value: unknown): value is number => typeof value === 'number' && value > 0 && Number.isFinite(value);

export function assertCapabilities(transportName: string, caps: Capabilities): void {
  const problems: string[] = [];
  if (!oneOf(caps.nack, ['none', 'immediate', 'delayed'])) problems.push(`nack must be 'none', 'immediate' or 'delayed' (got ${JSON.stringify(caps.nack)})`);
  if (caps.nack === 'delayed' && !positive(caps.maxNackDelayMs)) problems.push('nack is delayed, so maxNackDelayMs must be a positive number of ms');
  if (!oneOf(caps.deliveryCount, ['exact', 'approximate', 'absent']))
    problems.push(`deliveryCount must be 'exact', 'approximate' or 'absent' (got ${JSON.stringify(caps.deliveryCount)})`);
  if (!oneOf(caps.delay, ['native', 'emulated'])) problems.push(`delay must be 'native' or 'emulated' (got ${JSON.stringify(caps.delay)})`);
  if (caps.delay === 'native' && !positive(caps.maxNativeDelayMs)) problems.push('delay is native, so maxNativeDelayMs must be a positive number of ms');
  if (caps.leaseMs !== undefined && !positive(caps.leaseMs)) problems.push('leaseMs, when set, must be a positive number of ms');
  if (caps.redeliveryOnTimeout !== (caps.leaseMs !== undefined)) problems.push('redeliveryOnTimeout must be true exactly when leaseMs is set (core extends leases only then)');
  for (const limit of ['maxPayloadBytes', 'maxHeaders', 'maxHeaderValueBytes', 'maxHeaderBytes'] as const) {
    if (!positive(caps[limit])) problems.push(`${limit} must be a positive number`);
  }
  if (problems.length > 0) {
    throw new ConfigurationError(
      `The ${transportName} transport declares capabilities core cannot work with: ${problems.join('; ')}. See "Writing an adapter" in @switchyard/core's README (SPI v2).`,
    );
  }
}
