/** Starts test/support/server-process.ts as a child process and waits for its URLs. */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

export interface ChildServer {
  process: ChildProcess;
  httpUrl: string;
  wsUrl: string;
  tcpUrl: string;
  /** SIGKILL: no shutdown code runs. */
  kill9(): Promise<void>;
}

export interface ChildServerOptions {
  /**
   * Keep the child's stderr instead of passing it through, and put its tail in
   * the error when the child fails to start (a start that may fail on purpose,
   * such as a port still in use, then stays quiet). Default false.
   */
  captureStderr?: boolean;
  /** How long the child may take to print its URLs. Default 20000 ms. */
  startTimeoutMs?: number;
}

const script = fileURLToPath(new URL('./server-process.ts', import.meta.url));
const STDERR_TAIL_CHARS = 2000;

export async function startChildServer(env: Record<string, string>, options: ChildServerOptions = {}): Promise<ChildServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    env: { ...process.env, PARLEY_LOG_LEVEL: 'silent', ...env },
    stdio: ['ignore', 'pipe', options.captureStderr === true ? 'pipe' : 'inherit'],
  });
  let stderrTail = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (text: string) => {
    stderrTail = (stderrTail + text).slice(-STDERR_TAIL_CHARS);
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const urls = await new Promise<{ httpUrl: string; wsUrl: string; tcpUrl: string }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('child server did not start'));
    }, options.startTimeoutMs ?? 20_000);
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolve(JSON.parse(line));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      const fail = () => reject(new Error(`child server exited with ${code}${stderrTail === '' ? '' : `: ${stderrTail.trim()}`}`));
      // 'exit' may come before the last of stderr has been read.
      if (child.stderr === null || child.stderr.readableEnded) fail();
      else {
        child.stderr.once('end', fail);
        setTimeout(fail, 500).unref();
      }
    });
  });
  return {
    process: child,
    ...urls,
    kill9: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}
