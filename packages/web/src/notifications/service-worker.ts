/**
 * The app's service worker (public/sw.js), from the page's side: registering
 * it on start, the registration that Web Push subscribes, the conversation a
 * clicked notification asks an open window to show, and what becomes of this
 * browser's subscription when the user signs in or out.
 */
import { disableWebPush, enableWebPush, webPushState, type WebPushClient } from '@parley/client/browser';
import { parseRoute, routeHash } from '../route.js';

/** Served from the root so that its scope is the whole app (web-app.ts serves it uncached). */
const WORKER_URL = '/sw.js';
/** Signing out waits this long at most for the server to forget this browser. */
const SIGN_OUT_WAIT_MS = 3000;

let registration: Promise<ServiceWorkerRegistration | undefined> | undefined;

/**
 * Registers the worker once per page and resolves with its registration once
 * it is active; undefined where browsers allow no service workers (plain HTTP
 * other than localhost, Firefox's private windows) or registering failed.
 */
export function appServiceWorker(): Promise<ServiceWorkerRegistration | undefined> {
  registration ??= register();
  return registration;
}

async function register(): Promise<ServiceWorkerRegistration | undefined> {
  if (!window.isSecureContext || !('serviceWorker' in navigator)) return undefined;
  try {
    await navigator.serviceWorker.register(WORKER_URL);
    // Subscribing needs an active worker; `ready` waits for the first install.
    return await navigator.serviceWorker.ready;
  } catch (error) {
    // Chat works without it; only notifications while the app is closed are lost.
    console.warn('parley: no service worker:', error);
    return undefined;
  }
}

/** A clicked notification's conversation, posted by the worker to the window it focused. */
export function followNotificationClicks(): void {
  if (!('serviceWorker' in navigator)) return;
  navigator.serviceWorker.addEventListener('message', (event: MessageEvent<unknown>) => {
    const data = event.data as { type?: unknown; hash?: unknown } | null;
    if (data?.type !== 'parley:open' || typeof data.hash !== 'string') return;
    const route = parseRoute(data.hash);
    if (route.page === 'conversation' || route.page === 'home') location.hash = routeHash(route);
  });
  // Messages wait in a queue until the page says it listens.
  navigator.serviceWorker.startMessages();
}

/**
 * Re-sends this browser's subscription when it has one: the server may have
 * lost it, or changed its key (enableWebPush then subscribes again). Never
 * prompts: with permission not granted it does nothing.
 */
export async function refreshWebPush(client: WebPushClient): Promise<void> {
  const current = await appServiceWorker();
  if (current === undefined || (await webPushState(current)) !== 'on') return;
  await enableWebPush(client, current);
}

/**
 * Signing out: this browser stops receiving the user's notifications, which
 * the next person to use it must not see. Bounded, so that a server out of
 * reach does not hold up the sign-out; the browser's unsubscribe comes first
 * and alone already stops them.
 */
export async function forgetWebPush(client: WebPushClient): Promise<void> {
  if (!('serviceWorker' in navigator)) return;
  const current = await navigator.serviceWorker.getRegistration();
  if (current === undefined) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, SIGN_OUT_WAIT_MS);
  });
  try {
    await Promise.race([disableWebPush(client, current), timeout]);
  } catch (error) {
    console.warn('parley: could not unregister notifications:', error);
  } finally {
    clearTimeout(timer);
  }
}
