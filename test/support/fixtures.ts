/**
 * Test fixtures: a real server on free ports with its own data directory, an
 * admin REST helper, and raw protocol connections for tests that must speak
 * the wire format directly (bad input, authorisation).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as connectTcp, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { type Frame, LengthPrefixedReader, decodePacket, encodeFrameEntry, lengthPrefixed } from '@parley/protocol';
import { type ParleyServer, type ServerOptions, startServer } from '@parley/server';
import WebSocket from 'ws';
import { POSTGRES_URL, dropSchema } from '../../packages/server/test/support/cluster-services.js';

export const ADMIN_KEY = 'test-admin-key';

export interface AdminApi {
  call(method: string, path: string, body?: unknown, key?: string | null): Promise<{ status: number; body: any }>;
  createUser(id: string, name?: string): Promise<void>;
  token(userId: string, ttlSeconds?: number): Promise<string>;
  createGroup(input: { id?: string; name: string; ownerId: string; memberIds?: string[] }): Promise<string>;
}

export function adminApi(httpUrl: string, adminKey = ADMIN_KEY): AdminApi {
  const api: AdminApi = {
    async call(method, path, body, key = adminKey) {
      const headers: Record<string, string> = {};
      if (key !== null) headers.authorization = `Bearer ${key}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      const response = await fetch(httpUrl + path, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
      const text = await response.text();
      return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
    },
    async createUser(id, name = id) {
      const { status, body } = await api.call('POST', '/v1/users', { id, name });
      if (status >= 300) throw new Error(`createUser ${id}: ${status} ${JSON.stringify(body)}`);
    },
    async token(userId, ttlSeconds) {
      const { status, body } = await api.call('POST', `/v1/users/${userId}/tokens`, ttlSeconds === undefined ? {} : { ttlSeconds });
      if (status !== 201) throw new Error(`token ${userId}: ${status} ${JSON.stringify(body)}`);
      return body.token as string;
    },
    async createGroup(input) {
      const { status, body } = await api.call('POST', '/v1/groups', input);
      if (status !== 201) throw new Error(`createGroup: ${status} ${JSON.stringify(body)}`);
      return body.id as string;
    },
  };
  return api;
}

export interface TestServer {
  server: ParleyServer;
  api: AdminApi;
  dataDir: string;
  close(): Promise<void>;
}

/**
 * PARLEY_TEST_STORE=postgres runs the servers of these tests on the
 * machine's PostgreSQL instead of SQLite: one schema per data folder (a
 * restart on the same folder finds its data again), dropped with the folder.
 */
const testStore = process.env.PARLEY_TEST_STORE === 'postgres' ? { url: POSTGRES_URL } : undefined;

function schemaFor(dataDir: string): string {
  return `parley_e2e_${createHash('sha256').update(dataDir).digest('hex').slice(0, 16)}`;
}

/** Starts a server on free ports; closed (and its data removed) after the test. */
export async function startTestServer(t: TestContext | undefined, options: ServerOptions = {}): Promise<TestServer> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'parley-test-'));
  const store = testStore === undefined || options.store !== undefined ? {} : { storeUrl: testStore.url, storeSchema: schemaFor(dataDir) };
  const server = await startServer({ port: 0, tcpPort: 0, adminKey: ADMIN_KEY, logLevel: 'silent', ...store, ...options, dataDir });
  const close = async () => {
    await server.close();
    if (options.dataDir === undefined) {
      rmSync(dataDir, { recursive: true, force: true });
      if (store.storeUrl !== undefined) await dropSchema(store.storeSchema);
    }
  };
  t?.after(close);
  return { server, api: adminApi(server.httpUrl), dataDir, close };
}

/** A raw protocol connection (WebSocket or TCP) that records every frame received. */
export class RawConnection {
  readonly frames: Frame[] = [];
  closed = false;
  /** The WebSocket close code the server sent (undefined on TCP, or when no close frame came). */
  closeCode: number | undefined;
  /** The reason of that close frame. */
  closeReason = '';
  /** The underlying WebSocket, for tests of WebSocket-level behaviour (pings). */
  rawWebSocket: WebSocket | undefined;
  private waiters: Array<() => void> = [];
  private nextRequestId = 1;

  private constructor(
    private readonly sendBytes: (bytes: Uint8Array) => void,
    private readonly end: () => void,
  ) {}

  static async websocket(url: string): Promise<RawConnection> {
    const ws = new WebSocket(url);
    const connection = new RawConnection((bytes) => ws.send(bytes), () => ws.terminate());
    ws.on('message', (data) => connection.onPacket(data as Buffer));
    connection.rawWebSocket = ws;
    ws.on('close', (code, reason) => {
      if (code !== 1005 && code !== 1006) connection.closeCode = code;
      connection.closeReason = reason.toString();
      connection.onClose();
    });
    ws.on('error', () => connection.onClose());
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return connection;
  }

  static async tcp(url: string): Promise<RawConnection> {
    const { hostname, port } = new URL(url);
    const socket: Socket = connectTcp({ host: hostname, port: Number(port) });
    const reader = new LengthPrefixedReader(64 * 1024 * 1024);
    const connection = new RawConnection((bytes) => socket.write(lengthPrefixed(bytes)), () => socket.destroy());
    (connection as { rawSocket?: Socket }).rawSocket = socket;
    socket.on('data', (chunk) => {
      for (const packet of reader.push(chunk)) connection.onPacket(packet);
    });
    socket.on('close', () => connection.onClose());
    socket.on('error', () => connection.onClose());
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    return connection;
  }

  static open(url: string): Promise<RawConnection> {
    return url.startsWith('tcp:') ? RawConnection.tcp(url) : RawConnection.websocket(url);
  }

  private onPacket(bytes: Uint8Array): void {
    this.frames.push(...decodePacket(bytes));
    this.wake();
  }

  private onClose(): void {
    this.closed = true;
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter();
  }

  /** Sends raw bytes as one packet (WebSocket message or length-prefixed TCP frame). */
  sendRaw(bytes: Uint8Array): void {
    this.sendBytes(bytes);
  }

  /** Sends a request and returns the reply frame (or the error frame answering it). */
  async request(body: NonNullable<Frame['body']>, timeoutMs = 5000): Promise<Frame> {
    const requestId = this.nextRequestId++;
    this.sendBytes(encodeFrameEntry({ requestId, body }));
    return this.waitFor((frame) => frame.requestId === requestId, timeoutMs);
  }

  async hello(token: string): Promise<Frame> {
    return this.request({ $case: 'hello', value: { protocolVersion: 1, token, client: 'raw-test' } });
  }

  /** Waits until a received frame matches; returns it. */
  async waitFor(match: (frame: Frame) => boolean, timeoutMs = 5000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.find(match);
      if (found !== undefined) return found;
      if (this.closed) throw new Error('connection closed while waiting for a frame');
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error('timed out waiting for a frame');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async waitClosed(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('connection did not close');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.end();
  }
}

/** A raw connection at `url` that said hello with `token` and was welcomed. */
export async function signedIn(url: string, token: string): Promise<RawConnection> {
  const connection = await RawConnection.open(url);
  const welcome = await connection.hello(token);
  assert.equal(welcome.body?.$case, 'welcome');
  return connection;
}

/** What an error frame carries. */
export interface ErrorFrameValue {
  code: number;
  name: string;
  fatal: boolean;
  retryAfterMs: number;
}

/** The error a frame carries; fails the test when the frame is not an error. */
export function errorOf(frame: Frame): ErrorFrameValue {
  assert.equal(frame.body?.$case, 'error', `expected an error, got ${frame.body?.$case}`);
  return frame.body?.value as ErrorFrameValue;
}

/** Polls until a condition holds (for effects that arrive asynchronously). */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
