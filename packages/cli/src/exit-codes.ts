/**
 * What `switchyard` exits with. Scripts and CI branch on these, so they are part of the CLI's
 * contract (documented in the README and in `switchyard --help`).
 */
export const ExitCode = {
  /** Everything asked for was done and every check passed. */
  ok: 0,
  /** A check failed: a conformance case, an unhealthy broker, a dead letter that could not be redriven, a purge that was declined. */
  failed: 1,
  /** The command line is wrong: unknown command or option, missing argument, a purge without --yes and no terminal to ask on. */
  usage: 2,
  /** Switchyard or the broker refused: bad URL, unreachable broker, missing adapter package, a module without a contract. */
  error: 3,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** A mistake on the command line: printed with the command's usage, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A failure the command explains itself (its message is the whole story), exit code 3 unless given. */
export class CommandError extends Error {
  override readonly name = 'CommandError';
  constructor(
    message: string,
    readonly exitCode: ExitCodeValue = ExitCode.error,
  ) {
    super(message);
  }
}
