import { logLevel, type logCreator } from 'kafkajs';
import type { Logger } from '@switchyard/core';
import { scrubSecrets } from '@switchyard/core/spi';

/** Routes kafkajs logs to the bus logger. kafkajs INFO is chatty (joins, pauses): it goes to debug. */
export function kafkaLogCreator(logger: Logger, secrets: readonly string[]): logCreator {
  const scrub = (value: unknown): unknown => {
    if (typeof value === 'string') return scrubSecrets(value, secrets);
    if (value instanceof Error) return scrub(value.message);
    return value;
  };
  return () =>
    ({ namespace, level, log }) => {
      const { message, timestamp: _timestamp, logger: _logger, ...extra } = log;
      const fields: Record<string, unknown> = { kafkajs: namespace };
      for (const [name, value] of Object.entries(extra)) {
        if (/password|sasl|secret|token/i.test(name)) continue;
        fields[name] = scrub(value);
      }
      const text = `kafkajs: ${String(scrub(message))}`;
      if (level === logLevel.ERROR) logger.error(text, fields);
      else if (level === logLevel.WARN) logger.warn(text, fields);
      else logger.debug(text, fields);
    };
}
