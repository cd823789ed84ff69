/**
 * The chat's first connection. The SDK retries an unreachable server for
 * ever, which is right once a session was up (a phone in a tunnel comes back)
 * but wrong for a command that never got through: a typo in --url must not
 * look like a hang. So, until the first connection: say where and why it
 * fails (once per distinct reason), keep /quit, Ctrl-C and Ctrl-D working,
 * keep piped lines for later, and give up after a bounded time.
 */
import type { ParleyClient } from '@parley/client';
import type { Terminal } from './terminal.js';

export type FirstConnection =
  /**
   * `pendingLine`: a read already asked of the terminal; the caller must take
   * its line first (readline hands each line to one read only).
   */
  | { outcome: 'connected'; queued: string[]; inputEnded: boolean; pendingLine: Promise<string | undefined> | undefined }
  | { outcome: 'quit' }
  | { outcome: 'gave-up'; reason: string }
  | { outcome: 'failed'; error: unknown };

export interface FirstConnectionOptions {
  url: string;
  timeoutMs: number;
  /** Resolves when the user pressed Ctrl-C or the process got SIGTERM. */
  interruption: Promise<unknown>;
}

const QUIT_COMMANDS = new Set(['/quit', '/exit']);

export async function connectFirst(client: ParleyClient, terminal: Terminal, options: FirstConnectionOptions): Promise<FirstConnection> {
  let lastReason: string | undefined;
  const stopWatching = client.on('state', ({ state, error }) => {
    if (state !== 'connecting' || error === undefined) return;
    const reason = connectFailureReason(error);
    if (reason === lastReason) return;
    lastReason = reason;
    terminal.print(`* cannot reach ${options.url}: ${reason}; retrying for up to ${Math.round(options.timeoutMs / 1000)} s (/quit to stop)`);
  });

  const queued: string[] = [];
  let inputEnded = false;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), options.timeoutMs);
  });
  const connected = client.connect().then(
    () => 'connected' as const,
    (error: unknown) => ({ error }),
  );
  const interrupted = options.interruption.then(() => 'interrupted' as const);
  let pendingLine: Promise<string | undefined> | undefined;
  try {
    for (;;) {
      if (pendingLine === undefined && !inputEnded) pendingLine = terminal.nextLine();
      const line = pendingLine === undefined ? new Promise<never>(() => {}) : pendingLine.then((value) => ({ line: value }));
      const next = await Promise.race([connected, timeout, interrupted, line]);
      if (next === 'connected') return { outcome: 'connected', queued, inputEnded, pendingLine };
      if (typeof next === 'object' && 'line' in next) pendingLine = undefined;
      if (next === 'timeout') return { outcome: 'gave-up', reason: lastReason ?? 'no answer' };
      if (next === 'interrupted') return { outcome: 'quit' };
      if ('error' in next) return { outcome: 'failed', error: next.error };
      if (next.line === undefined) {
        // Ctrl-D at a terminal means "leave"; the end of piped input only
        // means every line is in, to be sent once connected.
        if (terminal.interactive) return { outcome: 'quit' };
        inputEnded = true;
        continue;
      }
      if (QUIT_COMMANDS.has(next.line.trim())) return { outcome: 'quit' };
      queued.push(next.line);
    }
  } finally {
    clearTimeout(timer);
    stopWatching();
  }
}

/** "connect ECONNREFUSED 127.0.0.1:1" → "nothing is listening there (ECONNREFUSED)". */
export function connectFailureReason(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const code = text.match(/\b(E[A-Z]{3,})\b/)?.[1];
  const meanings: Record<string, string> = {
    ECONNREFUSED: 'nothing is listening there',
    ENOTFOUND: 'no such host',
    EAI_AGAIN: 'the host name cannot be looked up now',
    ETIMEDOUT: 'no answer',
    EHOSTUNREACH: 'the host cannot be reached',
    ENETUNREACH: 'the network cannot be reached',
    ECONNRESET: 'the connection was reset',
  };
  if (code !== undefined) return `${meanings[code] ?? 'connection failed'} (${code})`;
  return text;
}
