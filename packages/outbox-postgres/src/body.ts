/**
 * Bodies in the table and back. A row stores the bytes bus.publish would send plus which of its
 * three encodings made them, so the relay hands bus.publish a body that encodes to the same
 * bytes and content type as a direct publish would have.
 */
import { ValidationError } from '@switchyard/core';

export type BodyKind = 'json' | 'text' | 'bytes';

export interface StoredBody {
  readonly kind: BodyKind;
  readonly bytes: Buffer;
}

/** bus.publish's rules: Uint8Array as bytes, strings as text, everything else as JSON; contentType only relabels bytes and text. */
export function storeBody(body: unknown, contentType: string | undefined): StoredBody {
  if (body instanceof Uint8Array) return { kind: 'bytes', bytes: Buffer.from(body) }; // a copy: the caller may reuse its buffer
  if (typeof body === 'string') return { kind: 'text', bytes: Buffer.from(body, 'utf8') };
  if (contentType !== undefined && !isJson(contentType)) {
    throw new ValidationError(`contentType "${contentType}" needs a string or Uint8Array body; got ${typeof body}. Serialize the body yourself or drop contentType to send JSON.`);
  }
  if (body === undefined) return { kind: 'json', bytes: Buffer.alloc(0) };
  let text: string | undefined;
  try {
    text = JSON.stringify(body);
  } catch (err) {
    throw new ValidationError(`Body cannot be serialized as JSON: ${(err as Error).message}`, [], { cause: err });
  }
  if (text === undefined) {
    throw new ValidationError(`Body of type ${typeof body} cannot be serialized as JSON; send an object, array, string, number, boolean, null or Uint8Array.`);
  }
  return { kind: 'json', bytes: Buffer.from(text, 'utf8') };
}

/**
 * What the relay passes to bus.publish. JSON goes back as the parsed value, not as bytes, so a
 * bus with a contract validates it like any publish; JSON.stringify(JSON.parse(s)) === s for
 * text JSON.stringify produced, so the bytes on the wire are the same.
 */
export function loadBody(kind: BodyKind, bytes: Uint8Array): unknown {
  switch (kind) {
    case 'bytes':
      return new Uint8Array(bytes);
    case 'text':
      return Buffer.from(bytes).toString('utf8');
    case 'json':
      return bytes.byteLength === 0 ? undefined : (JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown);
  }
}

function isJson(contentType: string): boolean {
  const base = contentType.split(';')[0]!.trim().toLowerCase();
  return base === 'application/json' || base.endsWith('+json');
}
