/**
 * The checks of runBench's options that need no broker, shared with the CLI so that it can refuse
 * a bad value once, before it starts a process per broker.
 */
import { RAW_WIRES } from './cloudevents.mjs';
import { SCENARIO_KEYS } from './scenarios.mjs';

/** What is wrong with `rawWire` or `only`, as a sentence to show; undefined when nothing is. */
export function optionProblem({ rawWire, only }) {
  if (rawWire !== undefined && !RAW_WIRES.includes(rawWire)) return `raw wire "${rawWire}" is unknown; use ${RAW_WIRES.join(' or ')}.`;
  const unknown = (only ?? []).filter((key) => !SCENARIO_KEYS.includes(key));
  if (unknown.length > 0) return `unknown scenario ${unknown.map((key) => `"${key}"`).join(', ')}; use ${SCENARIO_KEYS.join(', ')}.`;
  return undefined;
}
