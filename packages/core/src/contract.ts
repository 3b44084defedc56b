import type { ZodType, input, output } from 'zod';
import { assertTopicName } from './names.js';
import { ValidationError } from './errors.js';

/** A topic carries events of one schema, or request/response pairs. */
export type TopicSpec = ZodType | { readonly request: ZodType; readonly response: ZodType };
export type Contract = Readonly<Record<string, TopicSpec>>;
export type EmptyContract = Readonly<Record<never, never>>;

type Known<C, K> = K extends keyof C ? C[K] : never;

/** What a publisher passes for topic K (schema input). Unknown topics take anything. */
export type PublishBody<C, K extends string> = [Known<C, K>] extends [never]
  ? unknown
  : Known<C, K> extends { request: infer R extends ZodType }
    ? input<R>
    : Known<C, K> extends ZodType
      ? input<Known<C, K>>
      : unknown;

/** What a handler receives for topic K (schema output). */
export type ReceiveBody<C, K extends string> = [Known<C, K>] extends [never]
  ? unknown
  : Known<C, K> extends { request: infer R extends ZodType }
    ? output<R>
    : Known<C, K> extends ZodType
      ? output<Known<C, K>>
      : unknown;

/**
 * The body type a caller names with a type argument (`subscribe<Order>`, `pull<Job>`): T on a bus
 * without a contract; `unknown` on a bus with one, so a type argument can never contradict what
 * the contract validates.
 */
export type NamedBody<C, T> = [keyof C] extends [never] ? T : unknown;

/** What a reply handler returns / a requester receives for topic K. */
export type ResponseBody<C, K extends string> = [Known<C, K>] extends [never] ? unknown : Known<C, K> extends { response: infer R extends ZodType } ? output<R> : unknown;

/** Declare topics and their zod schemas once; the bus validates and types them everywhere. */
export function defineContract<const C extends Contract>(contract: C): C {
  if (!isObject(contract) || Array.isArray(contract)) {
    throw new ValidationError(
      `A contract must be an object of topic → schema, e.g. defineContract({ 'order.placed': z.object({...}) }); got ${contract === null ? 'null' : typeof contract}.`,
    );
  }
  for (const [topic, spec] of Object.entries(contract)) {
    assertTopicName(topic);
    if (!isSchema(spec) && !(isObject(spec) && isSchema(spec.request) && isSchema(spec.response))) {
      throw new ValidationError(`Contract entry "${topic}" must be a zod schema or { request: schema, response: schema }.`);
    }
  }
  return contract;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

export function isSchema(value: unknown): value is ZodType {
  return isObject(value) && typeof value['safeParse'] === 'function';
}

/** The schema that validates bodies published to / received on `topic`, if any. */
export function messageSchema(contract: Contract | undefined, topic: string): ZodType | undefined {
  const spec = contract?.[topic];
  if (spec === undefined) return undefined;
  return isSchema(spec) ? spec : spec.request;
}

export function responseSchema(contract: Contract | undefined, topic: string): ZodType | undefined {
  const spec = contract?.[topic];
  if (spec === undefined || isSchema(spec)) return undefined;
  return spec.response;
}

/** Parse with a schema; a failure becomes a ValidationError listing every issue. */
export function validateBody<T>(schema: ZodType<T> | undefined, body: unknown, where: string): T {
  if (schema === undefined) return body as T;
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(body)'}: ${i.message}`);
  throw new ValidationError(`${where} failed schema validation: ${issues.join('; ')}`, issues);
}
