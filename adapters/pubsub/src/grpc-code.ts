/** The gRPC status code of a client error (google-gax and grpc-js put it on `code`), or undefined. */
export function grpcCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}
