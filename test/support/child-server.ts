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

const script = fileURLToPath(new URL('./server-process.ts', import.meta.url));

export async function startChildServer(env: Record<string, string>): Promise<ChildServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    env: { ...process.env, PARLEY_LOG_LEVEL: 'silent', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const urls = await new Promise<{ httpUrl: string; wsUrl: string; tcpUrl: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('child server did not start')), 20_000);
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolve(JSON.parse(line));
    });
    child.once('exit', (code) => reject(new Error(`child server exited with ${code}`)));
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
