/**
 * Where a command writes: stdout for results, stderr for progress and errors. Colour only on a
 * terminal and never with NO_COLOR (https://no-color.org); the live progress line (rewritten in
 * place) only on a terminal, plain lines otherwise, so CI logs stay readable.
 */
export interface Output {
  /** A line of the command's result (stdout). */
  line(text?: string): void;
  /** A line about what is happening (stderr), never mixed into results a script may parse. */
  info(text: string): void;
  /** Replace the live status line (terminal only; elsewhere nothing). */
  status(text: string): void;
  /** Remove the live status line before other output (terminal only). */
  clearStatus(): void;
  readonly color: Colors;
  /** stdin and stderr are a terminal: a person can be asked. */
  readonly interactive: boolean;
  /** stderr is a terminal: a live progress line can be drawn. */
  readonly live: boolean;
}

export interface Colors {
  green(text: string): string;
  red(text: string): string;
  yellow(text: string): string;
  dim(text: string): string;
  bold(text: string): string;
}

export interface Streams {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  stdin: NodeJS.ReadStream;
  env: NodeJS.ProcessEnv;
}

const plain: Colors = { green: (t) => t, red: (t) => t, yellow: (t) => t, dim: (t) => t, bold: (t) => t };
const ansi = (open: number, close: number) => (text: string) => `\u001b[${open}m${text}\u001b[${close}m`;
const colored: Colors = { green: ansi(32, 39), red: ansi(31, 39), yellow: ansi(33, 39), dim: ansi(2, 22), bold: ansi(1, 22) };

export function createOutput(streams: Streams): Output {
  const live = streams.stderr.isTTY === true && streams.env['CI'] === undefined;
  const noColor = streams.env['NO_COLOR'] !== undefined && streams.env['NO_COLOR'] !== '';
  const useColor = !noColor && streams.stdout.isTTY === true && streams.env['TERM'] !== 'dumb';
  let statusShown = false;
  const clearStatus = () => {
    if (!statusShown) return;
    streams.stderr.write('\r\u001b[2K');
    statusShown = false;
  };
  return {
    line: (text = '') => {
      clearStatus();
      streams.stdout.write(`${text}\n`);
    },
    info: (text) => {
      clearStatus();
      streams.stderr.write(`${text}\n`);
    },
    status: (text) => {
      if (!live) return;
      const width = streams.stderr.columns || 80; // 0 on a terminal of unknown size
      streams.stderr.write(`\r\u001b[2K${text.length > width - 1 ? `${text.slice(0, width - 2)}…` : text}`);
      statusShown = true;
    },
    clearStatus,
    color: useColor ? colored : plain,
    interactive: streams.stdin.isTTY === true && streams.stderr.isTTY === true,
    live,
  };
}

/** Rows as a left-aligned text table (the last column is not padded, so long reasons wrap naturally). */
export function table(rows: readonly (readonly string[])[], visibleLength: (text: string) => number = stripAnsiLength): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, visibleLength(cell));
  }
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell + ' '.repeat((widths[i] ?? 0) - visibleLength(cell))))
      .join('  ')
      .trimEnd(),
  );
}

function stripAnsiLength(text: string): number {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes are control sequences by definition
  return text.replace(/\u001b\[[0-9;]*m/g, '').length;
}
