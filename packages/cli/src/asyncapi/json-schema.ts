import { z } from 'zod';

export type JsonSchema = Record<string, unknown>;

/** A schema's JSON Schema (draft-07, the dialect AsyncAPI 3 schemas extend), or why there is none. */
export type Converted = { ok: true; schema: JsonSchema } | { ok: false; reason: string };

interface StandardJsonSchemaLike {
  '~standard'?: { jsonSchema?: { input?: (options: { target: string }) => unknown } };
}

/**
 * The wire shape of a body: the schema's *input* side (what publishers send; defaults optional).
 * Libraries that implement Standard JSON Schema (`~standard.jsonSchema`) convert themselves;
 * zod 4 schemas go through z.toJSONSchema. Anything else has no JSON Schema to offer.
 */
export function toJsonSchema(schema: unknown): Converted {
  const standard = (schema as StandardJsonSchemaLike)['~standard']?.jsonSchema?.input;
  try {
    const raw =
      typeof standard === 'function'
        ? standard({ target: 'draft-07' })
        : isZod4(schema)
          ? z.toJSONSchema(schema, { target: 'draft-7', io: 'input', unrepresentable: 'any' })
          : undefined;
    if (raw === undefined) return { ok: false, reason: 'not a zod 4 schema and no Standard JSON Schema support (~standard.jsonSchema)' };
    const { $schema: _dialect, ...rest } = raw as JsonSchema;
    return { ok: true, schema: rest };
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  }
}

function isZod4(schema: unknown): schema is z.ZodType {
  return typeof schema === 'object' && schema !== null && '_zod' in schema;
}
