/**
 * `parley cert`: creates a self-signed development certificate (and key) for
 * localhost, for `parley start --tls-cert/--tls-key` and for clients to trust.
 */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Command } from '../command.js';
import { DEFAULT_DATA_DIR } from '../server-settings.js';

export const certCommand: Command = {
  name: 'cert',
  summary: 'create a self-signed TLS certificate for development',
  usage: `Usage: parley cert [--dir DIR] [--host NAME ...]

Creates DIR/dev-cert.pem and DIR/dev-key.pem (kept if they exist) for
localhost, 127.0.0.1 and ::1, plus every --host NAME. For development only.

Options:
  --dir DIR    where to write them (default <data dir>/tls)
  --host NAME  an extra DNS name the certificate is valid for (repeatable)

Then: parley start --tls-cert DIR/dev-cert.pem --tls-key DIR/dev-key.pem
Clients trust it with the SDK option tls: { ca }, or NODE_EXTRA_CA_CERTS=DIR/dev-cert.pem.`,
  async run(args) {
    const { values } = parseArgs({
      args,
      options: { dir: { type: 'string' }, host: { type: 'string', multiple: true }, help: { type: 'boolean', short: 'h' } },
    });
    const directory = resolve(values.dir ?? join(process.env.PARLEY_DATA_DIR ?? DEFAULT_DATA_DIR, 'tls'));
    const { createDevCertificate } = await import('@parley/server');
    const certificate = await createDevCertificate(directory, ['localhost', ...(values.host ?? [])]);
    process.stdout.write(`certificate  ${certificate.certPath}\nprivate key  ${certificate.keyPath}\n`);
    return 0;
  },
};
