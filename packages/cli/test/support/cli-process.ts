/** The built `parley` executable as a child process, for the CLI's process tests. */
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '../../dist/src/main.js');
export const WAIT_MS = 10_000;

/** A spawned CLI process whose output is collected as it arrives. */
export class CliProcess {
  readonly child: ChildProcessWithoutNullStreams;
  stdout = '';
  stderr = '';
  private readonly exited: Promise<number | null>;

  constructor(args: string[], env: NodeJS.ProcessEnv = {}) {
    this.child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: 'pipe' });
    this.child.stdout.setEncoding('utf8').on('data', (chunk: string) => (this.stdout += chunk));
    this.child.stderr.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolveExit) => this.child.once('exit', (code) => resolveExit(code)));
  }

  /** Resolves with the first match of pattern in stdout, waiting for it to appear. */
  async waitFor(pattern: RegExp, timeoutMs = WAIT_MS): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = this.stdout.match(pattern);
      if (match !== null) return match;
      if (this.child.exitCode !== null || Date.now() > deadline) {
        assert.fail(`no ${pattern} in stdout (exit ${this.child.exitCode}):\n${this.stdout}\nstderr:\n${this.stderr}`);
      }
      await new Promise((resolveTick) => setTimeout(resolveTick, 20));
    }
  }

  write(text: string): void {
    this.child.stdin.write(text);
  }

  /** The exit code, or a failure if the process is still running after timeoutMs. */
  async exitCode(timeoutMs = WAIT_MS): Promise<number | null> {
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`still running:\n${this.stdout}\n${this.stderr}`)), timeoutMs).unref());
    return Promise.race([this.exited, timeout]);
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, input?: string): Promise<RunResult> {
  return new Promise((resolveRun) => {
    const child = execFile(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, timeout: WAIT_MS }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolveRun({ code, stdout, stderr });
    });
    // Without input, stdin is closed at once, as for a command run from a script.
    child.stdin?.end(input);
  });
}

/**
 * Spawns CLI processes for one suite and kills whichever still run when it
 * ends (call killAll() from after()).
 */
export function cliSpawner(): { spawn(args: string[], env?: NodeJS.ProcessEnv): CliProcess; killAll(): void } {
  const spawned: CliProcess[] = [];
  return {
    spawn(args, env = {}) {
      const cli = new CliProcess(args, env);
      spawned.push(cli);
      return cli;
    },
    killAll() {
      for (const cli of spawned) cli.kill();
    },
  };
}
