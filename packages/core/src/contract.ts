import { assertTopicName, deadLetterTopicOf } from './names.js';
import { ValidationError } from './errors.js';
import { assertKnownOptions } from './options.js';
import type { StandardSchemaV1 } from './standard-schema.js';

/** A topic carries events of one schema, or request/response pairs. Any Standard Schema: zod 4, valibot, arktype, ... */
export type TopicSpec = StandardSchemaV1 | { readonly request: StandardSchemaV1; readonly response: StandardSchemaV1 };
export type Contract = Readonly<Record<string, TopicSpec>>;
export type EmptyContract = Readonly<Record<never, never>>;

/** Symbol.for, not Symbol(): a contract closed by one copy of core is closed for another copy too. */
const closedMark: unique symbol = Symbol.for('switchyard.contract.closed');

/** What `defineContract(topics, { closed: true })` returns: only its topics (and their `.dlq` topics) compile. */
export type ClosedContract<C extends Contract = Contract> = C & { readonly [closedMark]: true };

export interface ContractOptions {
  /**
   * true: publishing, subscribing, pulling, replying or requesting on a topic the contract does
   * not name (other than a contract topic's `<topic>.dlq`) does not compile, and throws
   * ValidationError at run time. Default false: other topics are allowed, with `unknown` bodies.
   */
  readonly closed?: boolean;
}

type ContractTopic<C> = Extract<keyof C, string>;

/** The topic names a bus with contract C takes: any on an open contract; on a closed one its own and their dead-letter topics. */
export type TopicName<C> = C extends { readonly [closedMark]: true } ? ContractTopic<C> | `${ContractTopic<C>}.dlq` : string;

type Known<C, K> = K extends keyof C ? C[K] : never;
type Input<S> = S extends StandardSchemaV1 ? StandardSchemaV1.InferInput<S> : unknown;
type Output<S> = S extends StandardSchemaV1 ? StandardSchemaV1.InferOutput<S> : unknown;

/** What a publisher passes for topic K (schema input). Topics outside the contract take anything. */
export type PublishBody<C, K extends string> = [Known<C, K>] extends [never]
  ? unknown
  : Known<C, K> extends { request: infer R extends StandardSchemaV1 }
    ? Input<R>
    : Input<Known<C, K>>;

/** What a handler receives for topic K (schema output). */
export type ReceiveBody<C, K extends string> = [Known<C, K>] extends [never]
  ? unknown
  : Known<C, K> extends { request: infer R extends StandardSchemaV1 }
    ? Output<R>
    : Output<Known<C, K>>;

/** What a handler receives for topic K when `options.schema` is S: the contract's type on its topics (the contract wins), else S's output. */
export type SchemaBody<C, K extends string, S extends StandardSchemaV1> = [Known<C, K>] extends [never] ? StandardSchemaV1.InferOutput<S> : ReceiveBody<C, K>;

/**
 * The body type a caller names with a type argument (`subscribe<Order>`, `pull<Job>`): T on a bus
 * without a contract; `unknown` on a bus with one, so a type argument can never contradict what
 * the contract validates.
 */
export type NamedBody<C, T> = [keyof C] extends [never] ? T : unknown;

/**
 * A request or response type the caller names (`request<Req, Res>`, `reply<Req, Res>`): as
 * NamedBody, except that a type left to inference (so `unknown`) takes nothing. Otherwise a call
 * that does not fit the contract's own overload (a wrong body, a wrong reply) would fall through to
 * this one and compile with `unknown`.
 */
export type NamedMessage<C, T> = unknown extends T ? never : NamedBody<C, T>;

/** What a reply handler returns / a requester receives for topic K. */
export type ResponseBody<C, K extends string> = [Known<C, K>] extends [never] ? unknown : Known<C, K> extends { response: infer R extends StandardSchemaV1 } ? Output<R> : unknown;

/**
 * Declare topics and their schemas (any Standard Schema: zod, valibot, arktype, ...) once; the bus
 * validates and types them everywhere. `{ closed: true }`: topics outside the contract do not compile.
 */
export function defineContract<const C extends Contract>(contract: C, options: { readonly closed: true }): ClosedContract<C>;
export function defineContract<const C extends Contract>(contract: C, options?: { readonly closed?: false }): C;
export function defineContract<const C extends Contract>(contract: C, options: ContractOptions = {}): C | ClosedContract<C> {
  if (typeof contract !== 'object' || contract === null || Array.isArray(contract)) {
    throw new ValidationError(
      `A contract must be an object of topic → schema, e.g. defineContract({ 'order.placed': z.object({...}) }); got ${contract === null ? 'null' : typeof contract}.`,
    );
  }
  assertKnownOptions(options, ['closed'], 'defineContract');
  if (options.closed !== undefined && typeof options.closed !== 'boolean')
    throw new ValidationError(`defineContract option closed must be true or false; got ${typeof options.closed}.`);
  for (const [topic, spec] of Object.entries(contract)) {
    assertTopicName(topic);
    if (!isSchema(spec) && !(isObject(spec) && isSchema(spec.request) && isSchema(spec.response))) {
      throw new ValidationError(
        `Contract entry "${topic}" must be a Standard Schema (zod 4, valibot, arktype, ...) or { request: schema, response: schema }; got ${describeNonSchema(spec)}.`,
      );
    }
  }
  return options.closed === true ? { ...contract, [closedMark]: true as const } : contract;
}

/** Objects and functions (an arktype schema is callable). */
function isObject(value: unknown): value is Record<string, unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null;
}

/** A Standard Schema v1: `~standard` with version 1 and a validate function. */
export function isSchema(value: unknown): value is StandardSchemaV1 {
  if (!isObject(value)) return false;
  const props = value['~standard'];
  return isObject(props) && props['version'] === 1 && typeof props['validate'] === 'function';
}

/** For error messages: what was given instead of a schema. */
export function describeNonSchema(value: unknown): string {
  if (value === null) return 'null';
  if (isObject(value) && typeof value['safeParse'] === 'function') return 'a schema without ~standard (zod 3 before 3.24? use zod 4)';
  return typeof value;
}

/** The topics a closed contract allows (its own and their dead-letter topics); undefined for an open contract. */
export function closedTopics(contract: Contract | undefined): ReadonlySet<string> | undefined {
  if (contract === undefined || (contract as { readonly [closedMark]?: true })[closedMark] !== true) return undefined;
  const topics = Object.keys(contract);
  return new Set([...topics, ...topics.map(deadLetterTopicOf)]);
}

function specOf(contract: Contract | undefined, topic: string): TopicSpec | undefined {
  // Own keys only: "constructor" or "toString" are portable topic names, not contract entries.
  return contract !== undefined && Object.hasOwn(contract, topic) ? contract[topic] : undefined;
}

/** The schema that validates bodies published to / received on `topic`, if any. */
export function messageSchema(contract: Contract | undefined, topic: string): StandardSchemaV1 | undefined {
  const spec = specOf(contract, topic);
  if (spec === undefined) return undefined;
  return isSchema(spec) ? spec : spec.request;
}

export function responseSchema(contract: Contract | undefined, topic: string): StandardSchemaV1 | undefined {
  const spec = specOf(contract, topic);
  if (spec === undefined || isSchema(spec)) return undefined;
  return spec.response;
}

/**
 * Validate with a Standard Schema: the schema's output, or a Promise of it when the schema is
 * async (callers tell the two apart with `instanceof Promise`; a decoded body never is one). A
 * failure is a ValidationError listing every issue as `path: message`. No schema: the body as is.
 */
export function validateBody<T>(schema: StandardSchemaV1<unknown, T> | undefined, body: unknown, where: string): T | Promise<T> {
  if (schema === undefined) return body as T;
  const props = schema['~standard'];
  const result = props.validate(body);
  // The spec says Promise; a thenable from another realm is made a native one so callers can tell.
  if (typeof (result as { then?: unknown }).then === 'function') return Promise.resolve(result).then((r) => outcome(r, props.vendor, where));
  return outcome(result as StandardSchemaV1.Result<T>, props.vendor, where);
}

function outcome<T>(result: StandardSchemaV1.Result<T>, vendor: string, where: string): T {
  // Check issues first: a failed result may carry a value too (valibot's does).
  if (!result.issues) return result.value;
  const issues = result.issues.map(formatIssue);
  throw new ValidationError(`${where} failed schema validation (${vendor}): ${issues.join('; ')}`, issues);
}

function formatIssue(issue: StandardSchemaV1.Issue): string {
  const path = (issue.path ?? []).map((segment) => String(typeof segment === 'object' && segment !== null ? segment.key : segment));
  return `${path.length > 0 ? path.join('.') : '(body)'}: ${issue.message}`;
}
