/**
 * `--raw-wire cloudevents` (the default): the raw sides send, with every message, the metadata
 * Switchyard sends — its CloudEvents attributes, in each broker's binding as the adapter writes
 * them — so a ratio against them shows what Switchyard itself costs apart from carrying that
 * metadata, which every Switchyard message carries (README: "CloudEvents on the wire"). With
 * `plain` the raw sides send bodies alone, plus what their request/reply needs: the ratio then
 * includes what carrying the metadata costs.
 */
import { randomUUID } from 'node:crypto';

export const RAW_WIRES = ['cloudevents', 'plain'];
export const DEFAULT_RAW_WIRE = 'cloudevents';
const SOURCE = 'bench-raw';

/** An event's attributes, as Switchyard sets them on a publish or a request (ce-correlationid = ce-id). */
export function eventAttributes(type) {
  const id = randomUUID();
  return { specversion: '1.0', id, type, source: SOURCE, time: new Date().toISOString(), correlationid: id };
}

/** A reply's attributes, as Switchyard sets them: a new id, type "<request type>.reply", the request's id as ce-inreplyto and its correlation id. */
export function replyAttributes(type, requestId) {
  return {
    specversion: '1.0',
    id: randomUUID(),
    type: `${type}.reply`,
    source: SOURCE,
    time: new Date().toISOString(),
    inreplyto: requestId,
    replystatus: 'ok',
    correlationid: requestId,
  };
}

/** { id: 'x' } → { '<prefix>id': 'x' } */
export function prefixed(attributes, prefix) {
  const out = {};
  for (const name in attributes) out[prefix + name] = attributes[name];
  return out;
}

/**
 * A binding that carries the attributes as string headers under `prefix` (Kafka's `ce_`, Pub/Sub's
 * `ce-`) with the media type as `content-type`: a message's headers, and the names request/reply
 * uses for the request id, reply address and answered id — the binding's, or with `plain` the raw
 * protocol's own.
 */
export function headerBinding(prefix, plainNames) {
  return {
    headers: (attributes) => ({ ...prefixed(attributes, prefix), 'content-type': 'application/json' }),
    names: (wire) => (wire === 'cloudevents' ? { id: `${prefix}id`, replyTo: `${prefix}replyto`, inReplyTo: `${prefix}inreplyto` } : plainNames),
  };
}
