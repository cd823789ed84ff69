/**
 * Parley's requests to the host product's endpoints (the before-send hook,
 * webhooks, the push sender) are signed the same way, so the host checks
 * them all with one function (docs/moderation.md shows it).
 */

import { createHmac } from 'node:crypto';

/**
 * Signs `body` for a request made at `timestamp` (ms): `t=<timestamp>,v1=<hex
 * HMAC-SHA256 of "<timestamp>.<body>">`. The timestamp is signed too, so a
 * receiver can refuse replays of old requests.
 */
export function signature(secret: string, timestamp: number, body: string): string {
  return `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** POSTs JSON `body`, signed. Resolves undefined when the endpoint accepted it (2xx), else with why not; never rejects. */
export async function postSigned(url: string, secret: string, body: string, options: { timeoutMs: number; signal?: AbortSignal }): Promise<string | undefined> {
  try {
    const timeout = AbortSignal.timeout(options.timeoutMs);
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-parley-signature': signature(secret, Date.now(), body) },
      body,
      signal: options.signal === undefined ? timeout : AbortSignal.any([timeout, options.signal]),
    });
    await response.arrayBuffer().catch(() => undefined);
    return response.ok ? undefined : `answered ${response.status}`;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}
