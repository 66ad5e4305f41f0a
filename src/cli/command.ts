import type { CommandSpec, ParsedArgs } from './args.js';

/** One CLI command: its declared options and what it does. Results go to stdout, logs to stderr. */
export interface Command {
  readonly spec: CommandSpec;
  /** returns the process exit code */
  run(args: ParsedArgs): Promise<number>;
}
