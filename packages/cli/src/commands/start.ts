/**
 * `parley start`: runs the embedded server in the foreground until SIGINT or
 * SIGTERM, then closes it cleanly (connections, listeners, store). Prints
 * where it listens and, for a generated admin key, the key and where it is kept.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { ServerOptions } from '@parley/server';
import { type Command, UsageError, parseChoice, parseInteger } from '../command.js';
import { DEFAULT_DATA_DIR, DEFAULT_SERVER_URL } from '../server-settings.js';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const startCommand: Command = {
  name: 'start',
  summary: 'run a Parley server in the foreground',
  usage: `Usage: parley start [options]

Runs a Parley server until Ctrl-C / SIGTERM: on its embedded SQLite store in
the data folder, or, as one node of a cluster, on PostgreSQL (PARLEY_STORE,
PARLEY_STORE_SCHEMA, PARLEY_STORE_POOL) with NATS between the nodes
(PARLEY_BUS, PARLEY_BUS_PREFIX), a node name (PARLEY_NODE_ID) and the token
secret every node shares (PARLEY_TOKEN_SECRET); behind a load balancer,
PARLEY_DRAIN_SECONDS keeps a stopping node serving, with /readyz failing,
until the balancer moved away; see docs/operations.md.

Options (environment variable in brackets):
  --port N            HTTP + WebSocket port; 0 picks a free one [PARLEY_PORT] (default 8080)
  --tcp-port N|off    raw TCP port; 0 picks a free one, off disables TCP [PARLEY_TCP_PORT] (default 8081)
  --mqtt-port N|off   MQTT 3.1.1 port for devices (docs/mqtt.md); 0 picks a free one [PARLEY_MQTT_PORT] (default off)
  --host H            interface to listen on [PARLEY_HOST] (default 127.0.0.1)
  --data-dir DIR      database and generated secrets [PARLEY_DATA_DIR] (default ${DEFAULT_DATA_DIR})
  --admin-key K       admin REST key [PARLEY_ADMIN_KEY] (default: generated, kept in DIR/admin-key)
  --durability full|normal
                      full survives power loss, normal only process crashes [PARLEY_DURABILITY] (default full)
  --log-level L       ${LOG_LEVELS.join(', ')} [PARLEY_LOG_LEVEL] (default info)
  --tls-cert FILE     PEM certificate: serve https/wss and tls:// [PARLEY_TLS_CERT]
  --tls-key FILE      PEM private key for --tls-cert [PARLEY_TLS_KEY]
  --tls-self-signed   TLS with a development certificate for localhost, created
                      in DIR/tls on first use (clients must trust DIR/tls/dev-cert.pem)
  --user-directory M  what users may find when they search for people: open (part of
                      an id or name), exact (a full id only), off [PARLEY_USER_DIRECTORY] (default open)`,
  async run(args) {
    const { values } = parseArgs({
      args,
      options: {
        port: { type: 'string' },
        'tcp-port': { type: 'string' },
        'mqtt-port': { type: 'string' },
        host: { type: 'string' },
        'data-dir': { type: 'string' },
        'admin-key': { type: 'string' },
        durability: { type: 'string' },
        'log-level': { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        'tls-self-signed': { type: 'boolean' },
        'user-directory': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    // Only options given on the command line are passed, so that startServer
    // applies the PARLEY_* environment variables to the rest.
    const options: ServerOptions = {};
    if (values.port !== undefined) options.port = parseInteger(values.port, '--port', { max: 65535 });
    if (values['tcp-port'] !== undefined) {
      options.tcpPort = values['tcp-port'] === 'off' ? false : parseInteger(values['tcp-port'], '--tcp-port', { max: 65535 });
    }
    if (values['mqtt-port'] !== undefined) {
      options.mqttPort = values['mqtt-port'] === 'off' ? false : parseInteger(values['mqtt-port'], '--mqtt-port', { max: 65535 });
    }
    if (values.host !== undefined) options.host = values.host;
    if (values['data-dir'] !== undefined) options.dataDir = values['data-dir'];
    if (values['admin-key'] !== undefined) options.adminKey = values['admin-key'];
    if (values.durability !== undefined) options.durability = parseChoice(values.durability, '--durability', ['full', 'normal'] as const);
    if (values['log-level'] !== undefined) options.logLevel = parseChoice(values['log-level'], '--log-level', LOG_LEVELS);
    if (values['user-directory'] !== undefined) {
      options.userDirectory = parseChoice(values['user-directory'], '--user-directory', ['open', 'exact', 'off'] as const);
    }

    // Loaded here, not at the top: the server pulls in fastify, SQLite and pino,
    // which every other command would otherwise pay for at startup.
    const { startServer, createDevCertificate } = await import('@parley/server');
    if (values['tls-cert'] !== undefined || values['tls-key'] !== undefined) {
      if (values['tls-cert'] === undefined || values['tls-key'] === undefined) throw new UsageError('--tls-cert and --tls-key go together');
      options.tls = { cert: readFileSync(values['tls-cert'], 'utf8'), key: readFileSync(values['tls-key'], 'utf8') };
    } else if (values['tls-self-signed']) {
      const certificate = await createDevCertificate(join(resolve(options.dataDir ?? process.env.PARLEY_DATA_DIR ?? DEFAULT_DATA_DIR), 'tls'));
      options.tls = { cert: certificate.cert, key: certificate.key };
      process.stdout.write(`TLS with the development certificate ${certificate.certPath}\n`);
    }
    options.webRoot = webAppRoot();
    const server = await startServer(options);
    process.stdout.write(banner(server, values['admin-key'] !== undefined, options.webRoot !== undefined));

    const signal = await new Promise<NodeJS.Signals>((resolveSignal) => {
      process.once('SIGINT', resolveSignal);
      process.once('SIGTERM', resolveSignal);
    });
    // A second Ctrl-C while closing means "now": skip the clean shutdown.
    process.once('SIGINT', () => process.exit(130));
    // startServer checked the value already.
    const drainSeconds = Number(process.env.PARLEY_DRAIN_SECONDS || 0);
    const draining = drainSeconds > 0 ? `draining for ${drainSeconds} s (/readyz answers 503), then ` : '';
    process.stdout.write(`\n${signal}: ${draining}closing connections and the store...\n`);
    await server.close();
    process.stdout.write('stopped\n');
    return 0;
  },
};

interface StartedServer {
  httpUrl: string;
  wsUrl: string;
  tcpUrl: string | undefined;
  mqttUrl: string | undefined;
  adminKey: string;
  adminKeyGenerated: boolean;
  dataDir: string;
}

function banner(server: StartedServer, adminKeyFromFlag: boolean, webApp: boolean): string {
  const lines = [
    'Parley server running',
    `  HTTP       ${server.httpUrl}`,
    `  WebSocket  ${server.wsUrl}`,
    `  TCP        ${server.tcpUrl ?? 'off'}`,
    `  MQTT       ${server.mqttUrl ?? 'off'}`,
    `  Data dir   ${server.dataDir}`,
  ];
  if (server.adminKeyGenerated) {
    lines.push(`  Admin key  ${server.adminKey}  (generated, stored in ${resolve(server.dataDir, 'admin-key')})`);
  } else {
    lines.push(`  Admin key  from ${adminKeyFromFlag ? '--admin-key' : 'PARLEY_ADMIN_KEY'}`);
  }

  // The hint must work as typed: when the server or the key's location are
  // not the defaults, the admin commands need to be told where they are.
  const environment: string[] = [];
  if (server.httpUrl !== DEFAULT_SERVER_URL) environment.push(`PARLEY_SERVER=${server.httpUrl}`);
  if (server.adminKeyGenerated && resolve(server.dataDir) !== resolve(DEFAULT_DATA_DIR)) environment.push(`PARLEY_DATA_DIR=${server.dataDir}`);
  if (adminKeyFromFlag) environment.push('PARLEY_ADMIN_KEY=<your key>');
  // Started through npm (`npm start`, `npx parley start`): the command is not
  // on the PATH, so the hint says `npx parley`, which finds the project's bin.
  const parley = process.env.npm_command === undefined ? 'parley' : 'npx parley';
  if (webApp) lines.push('', `Web app: ${server.httpUrl}/  (sign up there, or sign in as a user made below with --password)`);
  lines.push('', 'Try it, in another terminal:');
  if (environment.length > 0) lines.push(`  export ${environment.join(' ')}`);
  lines.push(
    `  ${parley} user add alice --password && ${parley} user add bob --password`,
    `  ${parley} chat --user alice      (and ${parley} chat --user bob in a third terminal, then /dm alice)`,
  );
  lines.push('');
  return `${lines.join('\n')}\n`;
}

/**
 * The built browser app of @parley/web, when it is installed and built; the
 * server knows nothing of it and serves whatever directory it is given.
 */
function webAppRoot(): string | undefined {
  try {
    const dist = join(dirname(fileURLToPath(import.meta.resolve('@parley/web/package.json'))), 'dist');
    return existsSync(join(dist, 'index.html')) ? dist : undefined;
  } catch {
    return undefined;
  }
}
