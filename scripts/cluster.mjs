#!/usr/bin/env node
// `npm run cluster`: three Parley nodes on this machine, sharing PostgreSQL
// (schema parley_cluster) and NATS (subject prefix parley-cluster), each in
// its own process started with `parley start`:
//
//   n1  HTTP + WebSocket 8080, TCP 8081
//   n2  HTTP + WebSocket 8090, TCP 8091
//   n3  HTTP + WebSocket 8100, TCP 8101
//
// One admin key, one token secret, one hook secret and one VAPID key pair for
// all three (from the environment when set, else generated once and kept in
// data/cluster/), so a token minted by one node is good on the others and a
// browser registered for Web Push through one is reached from any. Each node's log lines
// are prefixed with its name; Ctrl-C stops all three (a second Ctrl-C kills
// them). Messages stay in the schema between runs; --fresh drops it first.
//
//   npm run cluster [-- --fresh]
//   PARLEY_STORE=postgres://user@host:5432/db PARLEY_BUS=nats://host:4222 npm run cluster
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import webpush from 'web-push';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'packages', 'cli', 'dist', 'src', 'main.js');
const NODES = [
  { name: 'n1', port: 8080, tcpPort: 8081, color: 36 },
  { name: 'n2', port: 8090, tcpPort: 8091, color: 35 },
  { name: 'n3', port: 8100, tcpPort: 8101, color: 33 },
];
const store = process.env.PARLEY_STORE || 'postgres://postgres@127.0.0.1:5432/test';
const schema = process.env.PARLEY_STORE_SCHEMA || 'parley_cluster';
const bus = process.env.PARLEY_BUS || 'nats://127.0.0.1:4222';
const prefix = process.env.PARLEY_BUS_PREFIX || 'parley-cluster';
const dataDir = resolve(process.env.PARLEY_DATA_DIR || join(root, 'data', 'cluster'));

const { values } = parseArgs({ options: { fresh: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } } });
if (values.help) {
  process.stdout.write(`${readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 17).join('\n').replace(/^\/\/ ?/gm, '')}\n`);
  process.exit(0);
}

const color = process.stdout.isTTY ? (code, text) => `\x1b[${code}m${text}\x1b[0m` : (_code, text) => text;
const say = (line) => process.stdout.write(`${color(1, '[cluster]')} ${line}\n`);

/** Resolves true when something accepts TCP connections at host:port. */
function answers(host, port, timeoutMs = 1000) {
  return new Promise((done) => {
    const socket = connect({ host, port });
    const finish = (ok) => {
      socket.destroy();
      done(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

/** A secret from the environment, else from data/cluster/<file>, created on first use. */
function sharedSecret(envName, file) {
  const given = process.env[envName];
  if (given) return { value: given, from: envName };
  const path = join(dataDir, file);
  if (!existsSync(path)) writeFileSync(path, `${randomBytes(24).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  return { value: readFileSync(path, 'utf8').trim(), from: path };
}

/** The VAPID pair every node signs Web Push with, from the environment or data/cluster/vapid.json. */
function sharedVapid() {
  if (process.env.PARLEY_VAPID_PUBLIC_KEY && process.env.PARLEY_VAPID_PRIVATE_KEY) return { publicKey: process.env.PARLEY_VAPID_PUBLIC_KEY, privateKey: process.env.PARLEY_VAPID_PRIVATE_KEY };
  const path = join(dataDir, 'vapid.json');
  if (!existsSync(path)) writeFileSync(path, `${JSON.stringify(webpush.generateVAPIDKeys())}\n`, { mode: 0o600, flag: 'wx' });
  return JSON.parse(readFileSync(path, 'utf8'));
}

async function preflight() {
  const problems = [];
  const storeUrl = new URL(store);
  if (!(await answers(storeUrl.hostname, Number(storeUrl.port || 5432)))) problems.push(`PostgreSQL does not answer at ${storeUrl.host} (start it, or set PARLEY_STORE=postgres://...)`);
  const busUrl = new URL(bus.split(',')[0]);
  if (!(await answers(busUrl.hostname, Number(busUrl.port || 4222)))) problems.push(`NATS does not answer at ${busUrl.host} (start nats-server, or set PARLEY_BUS=nats://...)`);
  for (const node of NODES) {
    for (const port of [node.port, node.tcpPort]) {
      if (await answers('127.0.0.1', port, 300)) problems.push(`port ${port} (${node.name}) is already in use`);
    }
  }
  if (!existsSync(cli)) problems.push(`${cli} is missing: run npm run build (npm run cluster does)`);
  if (problems.length > 0) {
    for (const problem of problems) say(`cannot start: ${problem}`);
    process.exit(1);
  }
}

async function dropSchema() {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: store });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema.replace(/"/g, '""')}" CASCADE`);
  } finally {
    await client.end();
  }
  rmSync(dataDir, { recursive: true, force: true });
  say(`--fresh: dropped schema ${schema} and ${dataDir}`);
}

/** Passes a child's output through, one line at a time, each prefixed with the node's name. */
function prefixLines(stream, node, target) {
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (text) => {
    pending += text;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) target.write(`${color(node.color, `[${node.name}]`)} ${line}\n`);
  });
  stream.on('end', () => {
    if (pending !== '') target.write(`${color(node.color, `[${node.name}]`)} ${pending}\n`);
  });
}

async function waitUntilHealthy(node, child) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && child.exitCode === null) {
    try {
      const response = await fetch(`http://127.0.0.1:${node.port}/healthz`);
      if (response.ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((resolveWait) => setTimeout(resolveWait, 200));
  }
  return false;
}

await preflight();
if (values.fresh) await dropSchema();
mkdirSync(dataDir, { recursive: true });
const adminKey = sharedSecret('PARLEY_ADMIN_KEY', 'admin-key');
const tokenSecret = sharedSecret('PARLEY_TOKEN_SECRET', 'token-secret');
const hookSecret = sharedSecret('PARLEY_HOOK_SECRET', 'hook-secret');
const vapid = sharedVapid();

const children = NODES.map((node) => {
  const child = spawn(process.execPath, [cli, 'start'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      PARLEY_NODE_ID: node.name,
      PARLEY_PORT: String(node.port),
      PARLEY_TCP_PORT: String(node.tcpPort),
      // Shared by the three: media on local disk and uploads are found by whichever node serves them.
      PARLEY_DATA_DIR: dataDir,
      PARLEY_ADMIN_KEY: adminKey.value,
      PARLEY_TOKEN_SECRET: tokenSecret.value,
      PARLEY_HOOK_SECRET: hookSecret.value,
      PARLEY_VAPID_PUBLIC_KEY: vapid.publicKey,
      PARLEY_VAPID_PRIVATE_KEY: vapid.privateKey,
      PARLEY_STORE: store,
      PARLEY_STORE_SCHEMA: schema,
      PARLEY_BUS: bus,
      PARLEY_BUS_PREFIX: prefix,
    },
  });
  prefixLines(child.stdout, node, process.stdout);
  prefixLines(child.stderr, node, process.stderr);
  child.on('exit', (code, signal) => say(`${node.name} exited (${signal ?? `code ${code}`})`));
  return { node, child };
});

let stopping = false;
function stop(signal) {
  if (stopping) {
    say('killing the nodes');
    for (const { child } of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    return;
  }
  stopping = true;
  say(`${signal}: stopping the nodes (Ctrl-C again to kill them)`);
  for (const { child } of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
}
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));

const healthy = await Promise.all(children.map(({ node, child }) => waitUntilHealthy(node, child)));
if (!stopping) {
  if (healthy.every(Boolean)) {
    const lines = [
      '',
      color(1, 'Parley cluster running: three nodes, one PostgreSQL, one NATS'),
      ...NODES.map((node) => `  ${node.name}  http://127.0.0.1:${node.port}  ws://127.0.0.1:${node.port}/ws  tcp://127.0.0.1:${node.tcpPort}`),
      `  store   ${store.replace(/\/\/[^@/]*@/, '//…@')} schema ${schema}`,
      `  bus     ${bus} prefix ${prefix}`,
      `  admin key    ${adminKey.from === 'PARLEY_ADMIN_KEY' ? 'from PARLEY_ADMIN_KEY' : `${adminKey.value}  (kept in ${adminKey.from})`}`,
      `  token secret ${tokenSecret.from === 'PARLEY_TOKEN_SECRET' ? 'from PARLEY_TOKEN_SECRET' : `kept in ${tokenSecret.from}`}: a token from any node works on all`,
      '',
      'Sign in: the web app of any node (sign up there), e.g. http://127.0.0.1:8080/ and http://127.0.0.1:8090/',
      'or from a terminal, each user on a different node:',
      `  export PARLEY_ADMIN_KEY=${adminKey.value}`,
      '  npx parley user add alice --password && npx parley user add bob --password',
      '  npx parley chat --user alice --server http://127.0.0.1:8080',
      '  npx parley chat --user bob --server http://127.0.0.1:8090 --url tcp://127.0.0.1:8091   (then /dm alice)',
      'Ctrl-C stops all three.',
      '',
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } else {
    say('not every node came up (see its lines above); stopping');
    stop('startup failure');
  }
}

await Promise.all(children.map(({ child }) => (child.exitCode !== null || child.signalCode !== null ? undefined : new Promise((done) => child.once('exit', done)))));
process.exit(children.every(({ child }) => child.exitCode === 0 || child.exitCode === 130) ? 0 : 1);
