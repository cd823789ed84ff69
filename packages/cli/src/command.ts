/**
 * What every subcommand looks like to the dispatcher, how commands report
 * mistakes in their arguments, and the parsing helpers they share.
 */
import { ParleyError } from '@parley/protocol';

export interface Command {
  /** The word after `parley`. */
  name: string;
  /** One line for `parley --help`. */
  summary: string;
  /** The full text of `parley <name> --help`. */
  usage: string;
  /** Runs with the arguments after the command name; resolves to the process exit code. */
  run(args: string[]): Promise<number>;
}

/** Exit codes: 0 success, 1 the operation failed, 2 the command line was wrong. */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A mistake in the command line; the dispatcher prints it with a pointer to --help. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function parseInteger(value: string, option: string, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}): number {
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isInteger(parsed) || parsed < min || parsed > max) {
    throw new UsageError(`${option} must be an integer from ${min} to ${max}, got "${value}"`);
  }
  return parsed;
}

export function parseChoice<T extends string>(value: string, option: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(value)) throw new UsageError(`${option} must be one of ${choices.join(', ')}, got "${value}"`);
  return value as T;
}

/** "a,b, c" → ["a", "b", "c"]; empty entries are dropped. */
export function parseList(value: string): string[] {
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
}

/** The one-line form of any failure: the server's error name and message when there is one. */
export function describeError(error: unknown): string {
  if (error instanceof ParleyError) return `${error.codeName}: ${error.message}`;
  if (error instanceof Error) return error.message;
  return String(error);
}
