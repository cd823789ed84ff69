/**
 * The chat's terminal: reads input lines and prints output lines without
 * clobbering what the user is typing. On a TTY every print clears the input
 * line, writes, and redraws the prompt with the partial input; on pipes
 * (scripts, tests) it is plain line I/O with no prompt.
 */
import { type Interface, clearLine, createInterface, cursorTo, moveCursor } from 'node:readline';

export class Terminal {
  /** True when both ends are TTYs: prompt, line editing and redraws. */
  readonly interactive: boolean;
  private readonly rl: Interface;
  private readonly lineIterator: AsyncIterator<string>;
  private readonly output: NodeJS.WriteStream;
  private prompting = false;

  constructor(input: NodeJS.ReadStream = process.stdin, output: NodeJS.WriteStream = process.stdout) {
    this.output = output;
    this.interactive = input.isTTY === true && output.isTTY === true;
    this.rl = createInterface({ input, output, terminal: this.interactive, historySize: 200, prompt: '> ' });
    // Created now, not when reading starts: readline drops lines that arrive
    // before an iterator exists, and piped input arrives at once.
    this.lineIterator = this.rl[Symbol.asyncIterator]();
  }

  /** The next input line, or undefined at end of input (EOF, Ctrl-D, close()). */
  async nextLine(): Promise<string | undefined> {
    const next = await this.lineIterator.next();
    return next.done === true ? undefined : next.value;
  }

  /** Ctrl-C on a TTY arrives here instead of as a process signal. */
  onInterrupt(handler: () => void): void {
    this.rl.on('SIGINT', handler);
  }

  /** Shows the prompt from now on (interactive only). */
  startPrompting(prompt: string): void {
    this.prompting = this.interactive;
    this.setPrompt(prompt);
  }

  setPrompt(prompt: string): void {
    this.rl.setPrompt(prompt);
    if (this.prompting) this.rl.prompt(true);
  }

  /** Shows the prompt again after an entered line was handled. */
  prompt(): void {
    if (this.prompting) this.rl.prompt(true);
  }

  /** Prints a line above the input line. */
  print(line: string): void {
    if (!this.prompting) {
      this.output.write(`${line}\n`);
      return;
    }
    clearLine(this.output, 0);
    cursorTo(this.output, 0);
    this.output.write(`${line}\n`);
    this.rl.prompt(true);
  }

  /**
   * Removes the echo of a line just entered, so that the message appears once,
   * formatted, when the server has it. Interactive only.
   */
  eraseEnteredLine(line: string): void {
    if (!this.prompting) return;
    const columns = this.output.columns > 0 ? this.output.columns : 80;
    const rows = Math.max(1, Math.ceil((this.rl.getPrompt().length + line.length) / columns));
    moveCursor(this.output, 0, -rows);
    cursorTo(this.output, 0);
    this.output.write('\x1b[J');
    this.rl.prompt(true);
  }

  close(): void {
    this.prompting = false;
    this.rl.close();
  }
}
