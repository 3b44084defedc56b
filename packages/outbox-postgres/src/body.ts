/**
 * Bodies in the table and back. A row stores the bytes bus.publish would send plus which of its
 * three encodings made them, so the relay hands bus.publish a body that encodes to the same
 * bytes and content type as a direct publish would have.
 */
import { encodeBody } from '@switchyard/core/spi';

export type BodyKind = 'json' | 'text' | 'bytes';

export interface StoredBody {
  readonly kind: BodyKind;
  readonly bytes: Buffer;
}

/** bus.publish's rules and errors (core's own encoder): Uint8Array as bytes, strings as text, everything else as JSON. */
export function storeBody(body: unknown, contentType: string | undefined): StoredBody {
  const kind: BodyKind = body instanceof Uint8Array ? 'bytes' : typeof body === 'string' ? 'text' : 'json';
  const { bytes } = encodeBody(body, contentType); // copies a caller's Uint8Array: it may reuse its buffer
  return { kind, bytes: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
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
