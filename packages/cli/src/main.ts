#!/usr/bin/env node
/**
 * The `parley` executable: picks the subcommand, handles --help, and turns
 * failures into one line on stderr and an exit code (1 failed, 2 bad usage).
 */
import { type Command, EXIT_FAILURE, EXIT_USAGE, UsageError, describeError } from './command.js';
import { groupCommand, roomCommand, tokenCommand, userCommand, webhooksCommand } from './commands/admin.js';
import { certCommand } from './commands/cert.js';
import { vapidKeysCommand } from './commands/vapid-keys.js';
import { chatCommand } from './commands/chat.js';
import { startCommand } from './commands/start.js';

const COMMANDS: readonly Command[] = [startCommand, userCommand, tokenCommand, groupCommand, roomCommand, webhooksCommand, chatCommand, certCommand, vapidKeysCommand];

function overview(): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length));
  const lines = COMMANDS.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`);
  return `Usage: parley <command> [options]

Commands:
${lines.join('\n')}

Run \`parley <command> --help\` for a command's options.
Quick start: parley start, then in another terminal
  parley user add alice --password && parley user add bob --password
  parley chat --user alice   (or sign in to the web app the server prints)
`;
}

/** --help / -h anywhere before a `--` terminator. */
function wantsHelp(args: string[]): boolean {
  for (const arg of args) {
    if (arg === '--') return false;
    if (arg === '--help' || arg === '-h') return true;
  }
  return false;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? COMMANDS.find((command) => command.name === args[0]) : undefined;
    process.stdout.write(topic === undefined ? overview() : `${topic.usage}\n`);
    return name === undefined ? EXIT_USAGE : 0;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write('parley 0.1.0\n');
    return 0;
  }
  const command = COMMANDS.find((candidate) => candidate.name === name);
  if (command === undefined) {
    process.stderr.write(`parley: unknown command "${name}"\n\n${overview()}`);
    return EXIT_USAGE;
  }
  if (wantsHelp(args)) {
    process.stdout.write(`${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(args);
  } catch (error) {
    // parseArgs reports unknown options and missing values as TypeErrors with ERR_PARSE_ARGS_* codes.
    const isParseError = typeof (error as { code?: unknown }).code === 'string' && String((error as { code: string }).code).startsWith('ERR_PARSE_ARGS');
    if (error instanceof UsageError || isParseError) {
      process.stderr.write(`parley ${name}: ${describeError(error)}\nRun \`parley ${name} --help\` for usage.\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`parley ${name}: ${describeError(error)}\n`);
    return EXIT_FAILURE;
  }
}

const exitCode = await main(process.argv.slice(2));
// Exit explicitly: a closed SDK client or server may leave an unref'd-too-late
// timer behind, and a finished command must not hang the shell. Flush first.
process.stdout.write('', () => process.exit(exitCode));
