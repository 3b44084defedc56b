/**
 * A string translation computed once per input. Adapters translate the same few names on every
 * message (header names between the binding and Switchyard, a topic's subject or stream); building
 * them again each time (slice, concatenate, lowercase, escape) was a measurable part of the
 * per-message cost. Bounded, because inputs may be foreign (header names on receive): past
 * `limit` distinct inputs the cache starts over.
 */
export function remembered(translate: (input: string) => string, limit = 1024): (input: string) => string {
  const known = new Map<string, string>();
  return (input) => {
    let output = known.get(input);
    if (output === undefined) {
      output = translate(input);
      if (known.size >= limit) known.clear();
      known.set(input, output);
    }
    return output;
  };
}
