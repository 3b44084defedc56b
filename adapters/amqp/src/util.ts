/** Close a channel, but don't wait for ever on a connection that is silently gone. */
export async function closeQuietly(ch: { close(): Promise<void> } | undefined, timeoutMs = 2000): Promise<void> {
  if (ch === undefined) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([ch.close().catch(() => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
  clearTimeout(timer);
}
