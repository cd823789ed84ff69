/**
 * Web Push in a browser: subscribes a service worker's registration with the
 * browser's push service under the server's VAPID key and hands the
 * subscription to the server (`client.push`), or takes it back. Browser-only
 * (PushManager, Notification); the service worker that shows the
 * notifications is the application's.
 */
import type { PushSettings, WebPushSubscriptionJson } from './push.js';

/**
 * How enableWebPush ended: 'enabled' (subscribed, and the server has the
 * subscription); 'denied' (the user or the browser's settings refused
 * notifications); 'unsupported' (no Push or Notification API: older browsers,
 * iOS Safari outside a home-screen app); 'unavailable' (the server has Web
 * Push off, or the browser reaches no push service: headless, offline, push
 * disabled in its settings).
 */
export type WebPushResult = 'enabled' | 'denied' | 'unsupported' | 'unavailable';

/** What this browser does about pushes now, read without asking the user anything. */
export type WebPushState = 'on' | 'off' | 'denied' | 'unsupported';

/** The part of ParleyClient these helpers use. */
export interface WebPushClient {
  readonly push: Pick<PushSettings, 'webPushKey' | 'registerWebPush' | 'unregisterWebPush'>;
}

/**
 * Asks for notification permission (the browser prompts only while it is
 * 'default', and only after a user's gesture: call it from a click), subscribes
 * `registration` under the server's key and registers the subscription with
 * the server. An existing subscription under the same key is reused, so
 * calling it again is harmless and re-sends the subscription.
 */
export async function enableWebPush(client: WebPushClient, registration: ServiceWorkerRegistration): Promise<WebPushResult> {
  if (!webPushSupported(registration)) return 'unsupported';
  const permission = Notification.permission === 'granted' ? 'granted' : await Notification.requestPermission();
  if (permission !== 'granted') return 'denied';
  const key = await client.push.webPushKey();
  if (key === undefined) return 'unavailable';

  let subscription: PushSubscription;
  try {
    subscription = await subscribeWithKey(client, registration.pushManager, base64UrlToBytes(key));
  } catch (error) {
    if (!noPushService(error)) throw error;
    // Chromium reports a permission revoked meanwhile with the same error name.
    return Notification.permission === 'granted' ? 'unavailable' : 'denied';
  }
  await client.push.registerWebPush(subscriptionJson(subscription));
  return 'enabled';
}

/** Unsubscribes `registration` from pushes and tells the server to forget the subscription; nothing to do when there is none. */
export async function disableWebPush(client: WebPushClient, registration: ServiceWorkerRegistration): Promise<void> {
  if (!webPushSupported(registration)) return;
  const subscription = await registration.pushManager.getSubscription();
  if (subscription === null) return;
  const { endpoint } = subscription;
  // Browser first: once unsubscribed nothing more arrives, even if the server cannot be told now.
  await subscription.unsubscribe();
  await client.push.unregisterWebPush(endpoint);
}

/** Whether `registration` is subscribed and allowed to show notifications; never prompts. */
export async function webPushState(registration: ServiceWorkerRegistration): Promise<WebPushState> {
  if (!webPushSupported(registration)) return 'unsupported';
  if (Notification.permission === 'denied') return 'denied';
  if (Notification.permission !== 'granted') return 'off';
  return (await registration.pushManager.getSubscription()) === null ? 'off' : 'on';
}

function webPushSupported(registration: ServiceWorkerRegistration): boolean {
  return typeof Notification === 'function' && typeof PushManager === 'function' && registration.pushManager !== undefined;
}

async function subscribeWithKey(client: WebPushClient, pushManager: PushManager, applicationServerKey: Uint8Array<ArrayBuffer>): Promise<PushSubscription> {
  const existing = await pushManager.getSubscription();
  if (existing !== null) {
    if (sameBytes(existing.options.applicationServerKey, applicationServerKey)) return existing;
    // The server's key changed: the push service would refuse messages signed
    // with the new key for this subscription, and subscribe() refuses a second key.
    const { endpoint } = existing;
    await existing.unsubscribe();
    // The server also drops an endpoint when its push service answers 410 Gone; telling it now saves that attempt.
    await client.push.unregisterWebPush(endpoint).catch(() => undefined);
  }
  return pushManager.subscribe({ userVisibleOnly: true, applicationServerKey });
}

/**
 * A browser without a reachable push service: headless or offline Chromium
 * ("AbortError: Registration failed - push service not available"), Brave with
 * Google's push service off, Firefox with push disabled.
 */
function noPushService(error: unknown): boolean {
  return error instanceof DOMException && (error.name === 'AbortError' || error.name === 'NotAllowedError');
}

function subscriptionJson(subscription: PushSubscription): WebPushSubscriptionJson {
  const { endpoint, keys } = subscription.toJSON();
  const p256dh = keys?.p256dh;
  const auth = keys?.auth;
  // Every browser that implements the Push API gives both keys; a subscription without them could not be encrypted to.
  if (endpoint === undefined || p256dh === undefined || auth === undefined) throw new TypeError('push subscription without endpoint or keys');
  return { endpoint, keys: { p256dh, auth } };
}

function sameBytes(buffer: ArrayBuffer | null, bytes: Uint8Array): boolean {
  if (buffer === null || buffer.byteLength !== bytes.length) return false;
  const view = new Uint8Array(buffer);
  return view.every((byte, index) => byte === bytes[index]);
}

function base64UrlToBytes(base64Url: string): Uint8Array<ArrayBuffer> {
  const base64 = base64Url.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(base64Url.length / 4) * 4, '=');
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index++) bytes[index] = binary.charCodeAt(index);
  return bytes;
}
