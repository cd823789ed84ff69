/**
 * A push service on a local HTTPS port, standing in for FCM or Mozilla's
 * autopush, and the browsers subscribed to it. It checks what a real one
 * checks of each request (the VAPID signature, RFC 8292) and decrypts the
 * payload with the browser's own keys (RFC 8291, aes128gcm), written here
 * from the RFCs rather than with the library the server encrypts with, so
 * a mistake on the server's side cannot cancel out on this side.
 */
import assert from 'node:assert/strict';
import { createECDH, createPublicKey, hkdfSync, randomBytes, verify, createDecipheriv, type ECDH } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDevCertificate } from '../../src/tls.js';

/** A browser profile subscribed at the push service: its keys as the W3C PushSubscription gives them. */
export interface FakeBrowser {
  id: string;
  subscription: { endpoint: string; keys: { p256dh: string; auth: string } };
  ecdh: ECDH;
  auth: Buffer;
}

/** One request the push service accepted (or refused), decrypted when it was accepted. */
export interface PushRequest {
  browserId: string;
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The VAPID claims, once the signature checked out against `vapidKey`. */
  claims: { aud: string; exp: number; sub: string };
  /** The `k=` of the Authorization header: the server's public key. */
  vapidKey: string;
  payload: unknown;
}

export interface LocalPushService {
  /** An agent trusting the service's certificate, for the server's requests. */
  agent: Agent;
  host: string;
  requests: PushRequest[];
  browser(id: string): FakeBrowser;
  /** The next answers for a browser's endpoint, in order (then 201 again), e.g. [410] or [429, 503]. */
  answer(browserId: string, statuses: number[]): void;
  /** The next `count` requests, to any browser, answer 503. */
  failNext(count: number): void;
  close(): Promise<void>;
}

export async function startPushService(): Promise<LocalPushService> {
  const dir = mkdtempSync(join(tmpdir(), 'parley-push-service-'));
  const certificate = await createDevCertificate(dir);
  const browsers = new Map<string, FakeBrowser>();
  const answers = new Map<string, number[]>();
  const requests: PushRequest[] = [];
  let failing = 0;
  const server = createServer({ cert: certificate.cert, key: certificate.key }, async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const browserId = decodeURIComponent((request.url ?? '').replace(/^\/push\//u, ''));
    const browser = browsers.get(browserId);
    let status = answers.get(browserId)?.shift() ?? (browser === undefined ? 404 : 201);
    if (failing > 0) {
      failing -= 1;
      status = 503;
    }
    try {
      const { claims, vapidKey } = verifyVapid(String(request.headers.authorization ?? ''));
      const payload = status === 201 && browser !== undefined ? JSON.parse(decrypt(Buffer.concat(chunks), browser).toString('utf8')) : undefined;
      requests.push({ browserId, status, headers: request.headers, claims, vapidKey, payload });
      response.writeHead(status, status === 429 ? { 'retry-after': '0' } : {}).end();
    } catch (error) {
      // A request a real push service would refuse: recorded as refused so the test fails on it.
      requests.push({ browserId, status: 400, headers: request.headers, claims: { aud: '', exp: 0, sub: '' }, vapidKey: '', payload: String(error) });
      response.writeHead(400).end(String(error));
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const agent = new Agent({ ca: certificate.cert });
  return {
    agent,
    host,
    requests,
    browser(id) {
      const ecdh = createECDH('prime256v1');
      ecdh.generateKeys();
      const auth = randomBytes(16);
      const browser = { id, ecdh, auth, subscription: { endpoint: `https://${host}/push/${encodeURIComponent(id)}`, keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') } } };
      browsers.set(id, browser);
      return browser;
    },
    failNext(count) {
      failing += count;
    },
    answer(browserId, statuses) {
      answers.set(browserId, [...(answers.get(browserId) ?? []), ...statuses]);
    },
    async close() {
      agent.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** RFC 8292: `vapid t=<JWT>, k=<public key>`, the JWT signed ES256 by that key. */
function verifyVapid(header: string): { claims: { aud: string; exp: number; sub: string }; vapidKey: string } {
  const match = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/u.exec(header);
  assert.ok(match, `a VAPID Authorization header, got ${header}`);
  const [, jwt, vapidKey] = match as unknown as [string, string, string];
  const [head, body, signature] = jwt.split('.') as [string, string, string];
  assert.deepEqual(JSON.parse(Buffer.from(head, 'base64url').toString()), { typ: 'JWT', alg: 'ES256' });
  const point = Buffer.from(vapidKey, 'base64url');
  assert.equal(point.length, 65);
  const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') }, format: 'jwk' });
  assert.ok(verify('sha256', Buffer.from(`${head}.${body}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature, 'base64url')), 'the VAPID signature checks out');
  return { claims: JSON.parse(Buffer.from(body, 'base64url').toString()), vapidKey };
}

/** RFC 8291 with RFC 8188's aes128gcm framing: one record, as a push message is. */
function decrypt(body: Buffer, browser: FakeBrowser): Buffer {
  const salt = body.subarray(0, 16);
  const idLength = body[20] as number;
  const senderKey = body.subarray(21, 21 + idLength);
  const record = body.subarray(21 + idLength);
  const shared = browser.ecdh.computeSecret(senderKey);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), browser.ecdh.getPublicKey(), senderKey]);
  const ikm = Buffer.from(hkdfSync('sha256', shared, browser.auth, keyInfo, 32));
  const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
  const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(record.subarray(record.length - 16));
  const padded = Buffer.concat([decipher.update(record.subarray(0, record.length - 16)), decipher.final()]);
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end -= 1;
  assert.equal(padded[end], 2, 'the last record ends with the delimiter 0x02');
  return padded.subarray(0, end);
}
