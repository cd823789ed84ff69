/**
 * Reads a new password for `parley user add --password` and `parley user
 * password`: at a terminal, asked twice without echo; otherwise one line of
 * stdin, so that scripts can pipe it (`echo "$PW" | parley user password
 * alice`) and it never appears in the process list as an argument would.
 */
import { readSync } from 'node:fs';
import { isatty } from 'node:tty';
import { PASSWORD_LENGTH } from '@parley/protocol';
import { UsageError } from './command.js';

export async function readNewPassword(userId: string): Promise<string> {
  // isatty(0), not process.stdin.isTTY: creating process.stdin would make a
  // pipe non-blocking, and the line is read from the descriptor directly.
  if (!isatty(0)) return checked(readFirstLine());
  const first = checked(await promptHidden(`New password for ${userId} (${PASSWORD_LENGTH.min}-${PASSWORD_LENGTH.max} characters): `));
  const second = await promptHidden('Repeat it: ');
  if (first !== second) throw new UsageError('the two passwords differ; nothing was changed');
  return first;
}

function checked(password: string): string {
  if (password.length < PASSWORD_LENGTH.min || password.length > PASSWORD_LENGTH.max) {
    throw new UsageError(`a password has ${PASSWORD_LENGTH.min}-${PASSWORD_LENGTH.max} characters (got ${password.length})`);
  }
  return password;
}

/**
 * One line of stdin, read a byte at a time so that nothing after it is
 * consumed: `printf 'pw1\npw2\n' | (parley user add a --password && parley
 * user add b --password)` gives each command its own line, as `read` would.
 */
function readFirstLine(): string {
  const bytes: number[] = [];
  const byte = Buffer.alloc(1);
  for (;;) {
    let count: number;
    try {
      count = readSync(0, byte, 0, 1, null);
    } catch (error) {
      // A non-blocking stdin with nothing yet: wait for it rather than fail.
      if ((error as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      throw error;
    }
    if (count === 0 || byte[0] === 0x0a) break;
    bytes.push(byte[0] as number);
  }
  // A trailing CR comes from Windows-style input; the password itself never ends with one.
  return Buffer.from(bytes).toString('utf8').replace(/\r$/, '');
}

/** One line from the terminal with echo off; Ctrl-C or Ctrl-D cancels. */
function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  const stderr = process.stderr;
  stderr.write(question);
  stdin.setRawMode(true);
  stdin.resume();
  return new Promise((resolve, reject) => {
    let typed = '';
    const finish = (error?: Error) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      stderr.write('\n');
      if (error === undefined) resolve(typed);
      else reject(error);
    };
    const onData = (chunk: Buffer) => {
      for (const character of chunk.toString('utf8')) {
        if (character === '\r' || character === '\n') return finish();
        if (character === '\u0003' || character === '\u0004') return finish(new UsageError('cancelled; nothing was changed'));
        if (character === '\u007f' || character === '\b') typed = [...typed].slice(0, -1).join('');
        else if (character >= ' ') typed += character;
      }
    };
    stdin.on('data', onData);
  });
}
