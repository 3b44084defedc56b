import { describe, expect, it } from 'vitest';
import { runOnTerminal } from './helpers.js';

const GREEN = '\u001b[32m';
const REDRAW = '\r\u001b[2K';

async function onTerminal(args: string[], env: Record<string, string> = {}): Promise<string> {
  const { code, text } = await runOnTerminal(args, { env });
  expect(code, text).toBe(0);
  return text;
}

describe('on a terminal', () => {
  const args = ['conformance', 'memory://', '--only', 'delivery.binary,delivery.empty-and-text', '--report', '/dev/null'];

  it('conformance draws one live progress line (rewritten in place) and colours the summary', async () => {
    const text = await onTerminal(args);
    expect(text).toContain(`${REDRAW}conformance memory: 0/2 cases`);
    expect(text).toContain(`${REDRAW}conformance memory: 2/2 cases · delivery.`);
    expect(text).toContain(`${GREEN}pass`);
    expect(text).not.toMatch(/^ok {3}delivery\.binary/m); // no plain per-case lines
  });

  it('NO_COLOR: the progress line stays, the colour goes', async () => {
    const text = await onTerminal(args, { NO_COLOR: '1' });
    expect(text).toContain(`${REDRAW}conformance memory:`);
    for (const colour of [30, 31, 32, 33, 34, 35, 36, 37]) expect(text).not.toContain(`\u001b[${colour}m`);
    expect(text).toMatch(/^pass +delivery\.binary/m);
  });

  it('CI=true on a terminal: plain lines, as in a CI log', async () => {
    const text = await onTerminal(args, { CI: 'true' });
    expect(text).not.toContain(REDRAW);
    expect(text).toMatch(/ok.* delivery\.binary .*\(\d+ ms\)/);
  });
});
