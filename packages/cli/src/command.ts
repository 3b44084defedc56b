import type { OptionSpec, Parsed } from './args.js';
import type { ExitCodeValue } from './exit-codes.js';
import type { Output } from './output.js';

/** What every command gets besides its arguments. */
export interface CommandContext {
  readonly out: Output;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  /** Ask a yes/no question on the terminal (only called when out.interactive). */
  confirm(question: string): Promise<boolean>;
}

export interface Command {
  readonly name: string;
  /** One line for `switchyard --help`. */
  readonly summary: string;
  /** The whole `switchyard <name> --help` text: usage, options, examples. */
  readonly help: string;
  readonly options: OptionSpec;
  run(parsed: Parsed, context: CommandContext): Promise<ExitCodeValue>;
}
