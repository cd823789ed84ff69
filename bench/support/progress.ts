/**
 * A one-line progress display on stderr: redrawn in place with \r on a
 * terminal, a plain line every few seconds when stderr is a file or pipe.
 */
const BAR_WIDTH = 24;
const PLAIN_LINE_INTERVAL_MS = 2000;

export class ProgressLine {
  private readonly interactive = process.stderr.isTTY === true;
  private lastPlainLineAt = 0;
  private drawn = false;

  /** fraction in 0..1; text follows the bar. */
  update(fraction: number, text: string): void {
    const clamped = Math.min(1, Math.max(0, fraction));
    const filled = Math.round(clamped * BAR_WIDTH);
    const line = `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${text}`;
    if (this.interactive) {
      process.stderr.write(`\r${line}\x1b[K`);
      this.drawn = true;
      return;
    }
    const now = Date.now();
    if (now - this.lastPlainLineAt < PLAIN_LINE_INTERVAL_MS) return;
    this.lastPlainLineAt = now;
    process.stderr.write(`${line}\n`);
  }

  /** Ends the line so that later output starts on a fresh one. */
  finish(): void {
    if (this.drawn) process.stderr.write('\n');
    this.drawn = false;
  }

  /** A status message on its own line (setup steps). */
  note(text: string): void {
    this.finish();
    process.stderr.write(`${text}\n`);
  }
}
