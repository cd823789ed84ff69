/**
 * The browsers registered for a user's Web Push notifications: what a
 * registration must look like, and how many a user keeps.
 *
 * The server POSTs to whatever endpoint a subscription names, so an
 * endpoint is accepted only on a push service's host (the browsers' own by
 * default, PARLEY_WEB_PUSH_HOSTS to change): a user must not be able to
 * point the server at an address inside the deployment's network.
 */
import { type Clock, ParleyError } from '@parley/protocol';
import type { Store, WebPushSubscriptionRow } from '../store/store.js';

/** The browsers' push services: Chrome/Edge (FCM), Firefox (Mozilla autopush), Safari (Apple), Windows (WNS). */
export const DEFAULT_WEB_PUSH_HOSTS: readonly string[] = ['fcm.googleapis.com', 'android.googleapis.com', '*.push.services.mozilla.com', '*.push.apple.com', '*.notify.windows.com'];

/** Browsers a user keeps registered, at most; registering one more drops the oldest (a reinstalled browser never unregisters). */
export const MAX_SUBSCRIPTIONS_PER_USER = 10;
const MAX_ENDPOINT_CHARS = 1024;
/** An uncompressed P-256 point and the auth secret, as RFC 8291 fixes them. */
const P256DH_BYTES = 65;
const AUTH_BYTES = 16;

export interface WebPushRegistration {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

export type SubscriptionStore = Pick<Store, 'putWebPushSubscription' | 'deleteWebPushSubscription' | 'webPushSubscriptionsOf'>;

export class WebPushSubscriptions {
  private readonly hosts: readonly string[];

  constructor(
    private readonly store: SubscriptionStore,
    /** Host names endpoints may have; `*.example.com` matches its subdomains, `*` any host. */
    allowedHosts: readonly string[],
    private readonly clock: Clock,
  ) {
    this.hosts = allowedHosts.map((host) => host.toLowerCase());
  }

  /** Notifications for `userId` go to this browser too (it leaves any other user who held it). */
  async register(userId: string, registration: WebPushRegistration): Promise<void> {
    const endpoint = this.validEndpoint(registration.endpoint);
    const p256dh = base64url(registration.keys.p256dh, P256DH_BYTES, 'keys.p256dh');
    if (p256dh[0] !== 0x04) throw new ParleyError('INVALID_ARGUMENT', 'keys.p256dh must be an uncompressed P-256 point');
    base64url(registration.keys.auth, AUTH_BYTES, 'keys.auth');
    await this.store.putWebPushSubscription({ endpoint, userId, p256dh: registration.keys.p256dh, auth: registration.keys.auth, createdAt: this.clock.now() });
    const held = await this.store.webPushSubscriptionsOf(userId);
    for (const old of held.slice(0, Math.max(0, held.length - MAX_SUBSCRIPTIONS_PER_USER))) await this.store.deleteWebPushSubscription(old.endpoint, userId);
  }

  /** Unregisters a browser of this user; one the user does not hold is left alone (and is no error). */
  async unregister(userId: string, endpoint: string): Promise<void> {
    await this.store.deleteWebPushSubscription(endpoint, userId);
  }

  of(userId: string): Promise<WebPushSubscriptionRow[]> {
    return this.store.webPushSubscriptionsOf(userId);
  }

  /** The push service said the subscription is gone (404/410): the browser unsubscribed or was reset. */
  async forget(endpoint: string): Promise<void> {
    await this.store.deleteWebPushSubscription(endpoint);
  }

  private validEndpoint(value: string): string {
    if (typeof value !== 'string' || value.length > MAX_ENDPOINT_CHARS) throw new ParleyError('INVALID_ARGUMENT', `endpoint must be a URL of at most ${MAX_ENDPOINT_CHARS} characters`);
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new ParleyError('INVALID_ARGUMENT', 'endpoint must be a URL');
    }
    if (url.protocol !== 'https:') throw new ParleyError('INVALID_ARGUMENT', 'endpoint must be an https:// URL');
    if (url.username !== '' || url.password !== '') throw new ParleyError('INVALID_ARGUMENT', 'endpoint must not carry credentials');
    if (!this.allowed(url.hostname.toLowerCase())) throw new ParleyError('FORBIDDEN', `endpoint host ${url.hostname} is not a push service this server sends to`);
    return value;
  }

  private allowed(host: string): boolean {
    return this.hosts.some((pattern) => pattern === '*' || pattern === host || (pattern.startsWith('*.') && host.endsWith(pattern.slice(1))));
  }
}

function base64url(value: string, bytes: number, field: string): Buffer {
  if (typeof value !== 'string' || !/^[A-Za-z0-9_-]+={0,2}$/u.test(value)) throw new ParleyError('INVALID_ARGUMENT', `${field} must be base64url`);
  const decoded = Buffer.from(value, 'base64url');
  if (decoded.length !== bytes) throw new ParleyError('INVALID_ARGUMENT', `${field} must be ${bytes} bytes`);
  return decoded;
}
