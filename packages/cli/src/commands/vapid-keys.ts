/**
 * `parley vapid-keys`: a fresh VAPID key pair for Web Push, as the two
 * environment lines every node of a cluster must share (a single node makes
 * its own pair in its data folder and needs none of this).
 */
import { parseArgs } from 'node:util';
import type { Command } from '../command.js';

export const vapidKeysCommand: Command = {
  name: 'vapid-keys',
  summary: 'make a VAPID key pair for Web Push in a cluster',
  usage: `Usage: parley vapid-keys

Prints a new key pair as environment lines:

  PARLEY_VAPID_PUBLIC_KEY=...
  PARLEY_VAPID_PRIVATE_KEY=...

Give every node of a cluster the same two: browsers subscribe with the
public key, and a push signed with another pair is refused. Keep the
private key secret; replacing the pair makes every browser subscribe again.
A single node needs none of this: it keeps its own pair in the data folder.`,
  async run(args) {
    parseArgs({ args, options: { help: { type: 'boolean', short: 'h' } } });
    const { generateVapidKeys } = await import('@parley/server');
    const keys = generateVapidKeys();
    process.stdout.write(`PARLEY_VAPID_PUBLIC_KEY=${keys.publicKey}\nPARLEY_VAPID_PRIVATE_KEY=${keys.privateKey}\n`);
    return 0;
  },
};
