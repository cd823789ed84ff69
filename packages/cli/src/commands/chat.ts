/**
 * `parley chat`: a terminal chat client on the SDK. Resolves who the user is
 * (a token, or --user with a token minted through the admin API), connects,
 * and feeds input lines to a ChatSession until /quit, end of input, Ctrl-C
 * or SIGTERM.
 */
import { parseArgs } from 'node:util';
import { ParleyError } from '@parley/protocol';
import { CHAT_COMMANDS_HELP, ChatSession } from '../chat/chat-session.js';
import { connectFirst } from '../chat/connect.js';
import { Terminal } from '../chat/terminal.js';
import { type Command, EXIT_FAILURE, UsageError, describeError, parseInteger } from '../command.js';
import { SERVER_OPTIONS, SERVER_OPTIONS_USAGE, adminClient, serverUrl, webSocketUrlFor } from '../server-settings.js';

/** How long the first connection may keep failing before the command gives up. */
const DEFAULT_CONNECT_TIMEOUT_SECONDS = 30;
/** The conventional exit code after Ctrl-C (128 + SIGINT). */
const EXIT_INTERRUPTED = 130;

export const chatCommand: Command = {
  name: 'chat',
  summary: 'chat from the terminal (parley chat --user alice)',
  usage: `Usage: parley chat (--user ID | --token JWT) [--url URL] [server options]

  --user ID     chat as this user; a token is minted through the admin API
                (a development convenience: needs the admin key)
  --token JWT   chat with this access token (env PARLEY_TOKEN), e.g. from \`parley token alice\`
  --url URL     ws://host:port/ws or tcp://host:port (env PARLEY_URL;
                default: the WebSocket URL of --server)
  --connect-timeout SECONDS
                give up when the first connection has not succeeded in this
                time (default ${DEFAULT_CONNECT_TIMEOUT_SECONDS}; 1-86400). Once connected, a lost
                connection is retried for as long as the chat runs.

${CHAT_COMMANDS_HELP}

${SERVER_OPTIONS_USAGE}`,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      options: {
        ...SERVER_OPTIONS,
        user: { type: 'string' },
        token: { type: 'string' },
        url: { type: 'string' },
        'connect-timeout': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const connectTimeoutSeconds = parseInteger(values['connect-timeout'] ?? String(DEFAULT_CONNECT_TIMEOUT_SECONDS), '--connect-timeout', { min: 1, max: 86_400 });
    const givenToken = values.token ?? (process.env.PARLEY_TOKEN || undefined);
    if (values.user !== undefined && givenToken !== undefined) throw new UsageError('pass either --user or --token, not both');
    if (values.user === undefined && givenToken === undefined) throw new UsageError('who are you? pass --user <id> or --token <jwt>');
    const url = values.url ?? (process.env.PARLEY_URL || webSocketUrlFor(serverUrl(values)));

    let token: string | (() => Promise<string>);
    if (values.user !== undefined) {
      const userId = values.user;
      const admin = adminClient(values);
      // Minted once up front so that an unknown user fails here with a clear
      // message; reconnects mint a fresh one, so expiry never strands the session.
      let first: string | undefined;
      try {
        first = (await admin.mintToken(userId)).token;
      } catch (error) {
        const hint = error instanceof ParleyError && error.codeName === 'NOT_FOUND' ? ` (create it: parley user add ${userId})` : '';
        process.stderr.write(`parley chat: cannot get a token for ${userId}: ${describeError(error)}${hint}\n`);
        return EXIT_FAILURE;
      }
      token = async () => {
        const current = first;
        first = undefined;
        return current ?? (await admin.mintToken(userId)).token;
      };
    } else {
      token = givenToken as string;
    }

    // Loaded on use so that the other commands start faster.
    const { ParleyClient } = await import('@parley/client');
    const client = new ParleyClient({ url, token, clientName: 'parley-cli/0.1' });
    const terminal = new Terminal();
    const session = new ChatSession(client, terminal);
    let interrupted = false;
    let onInterrupted: () => void = () => {};
    const interruption = new Promise<'interrupted'>((resolve) => {
      onInterrupted = () => resolve('interrupted');
    });
    const interrupt = () => {
      interrupted = true;
      onInterrupted();
      terminal.close();
    };
    terminal.onInterrupt(interrupt);
    process.once('SIGTERM', interrupt);
    process.once('SIGINT', interrupt);

    terminal.print(`* connecting to ${url}...`);
    const opening = await connectFirst(client, terminal, { url, timeoutMs: connectTimeoutSeconds * 1000, interruption });
    if (opening.outcome !== 'connected') {
      terminal.close();
      await session.close();
      if (opening.outcome === 'quit') return interrupted ? EXIT_INTERRUPTED : 0;
      if (opening.outcome === 'gave-up') {
        process.stderr.write(
          `parley chat: gave up after ${connectTimeoutSeconds} s: cannot reach ${url}: ${opening.reason}. Is the server running (parley start), and is the address right?\n`,
        );
      } else {
        process.stderr.write(`parley chat: cannot connect to ${url}: ${describeError(opening.error)}\n`);
      }
      return EXIT_FAILURE;
    }
    session.announceConnected();
    terminal.startPrompting(session.prompt());

    // Lines typed or piped while connecting go first, in order.
    for (const line of opening.queued) {
      if ((await session.handleLine(line)) === 'quit') return finish();
    }
    let pendingLine = opening.pendingLine;
    if (opening.inputEnded && pendingLine === undefined) return finish();
    // Lines are handled one at a time, in order: "/dm bob" must have switched
    // the conversation before the next line is sent there.
    for (;;) {
      const line = await (pendingLine ?? terminal.nextLine());
      pendingLine = undefined;
      if (line === undefined || interrupted) break;
      if ((await session.handleLine(line)) === 'quit') break;
      terminal.prompt();
    }
    return finish();

    async function finish(): Promise<number> {
      terminal.close();
      await session.close();
      process.removeListener('SIGTERM', interrupt);
      process.removeListener('SIGINT', interrupt);
      return 0;
    }
  },
};
