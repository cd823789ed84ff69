/**
 * Parley's service worker: shows the Web Push notifications the server sends
 * while none of the user's devices is connected, sets the app badge to the
 * unread total, and opens the conversation when a notification is clicked.
 * It caches nothing: the app always loads from the server.
 *
 * Plain JavaScript served as is from the site's root (public/ is copied
 * untouched into dist/), so that its scope is the whole app and its URL
 * stays the same across builds; the browser compares it byte for byte to
 * pick up a new version.
 *
 * Payload (UTF-8 JSON, decrypted by the browser):
 * {"v":1,"title":string,"body":string,"conversationId":string,"seq":number,"count":number,"badge":number}
 */

/** Raster, not the SVG favicon, which not every browser draws in a notification. */
const ICON = '/icon-192.png';
const APP_NAME = 'Parley';

// Nothing is cached, so a new version has nothing to wait for: it takes over open pages at once.
self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('push', (event) => {
  event.waitUntil(showPush(readPayload(event.data)));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const conversationId = event.notification.data?.conversationId;
  event.waitUntil(openApp(typeof conversationId === 'string' ? conversationId : undefined));
});

/** The fields this worker uses, each checked; undefined for a payload that is not JSON or has no title. */
function readPayload(data) {
  let payload;
  try {
    payload = data?.json();
  } catch {
    return undefined;
  }
  if (typeof payload !== 'object' || payload === null || typeof payload.title !== 'string') return undefined;
  return {
    title: payload.title,
    body: typeof payload.body === 'string' ? payload.body : '',
    conversationId: typeof payload.conversationId === 'string' ? payload.conversationId : undefined,
    seq: typeof payload.seq === 'number' ? payload.seq : undefined,
    badge: typeof payload.badge === 'number' ? payload.badge : undefined,
  };
}

async function showPush(payload) {
  if (payload === undefined) {
    // Subscribed with userVisibleOnly: a push that shows nothing costs the site its push permission in Chromium.
    await self.registration.showNotification(APP_NAME, { body: 'New messages', icon: ICON, tag: 'parley' });
    return;
  }
  const { title, body, conversationId, seq, badge } = payload;
  await self.registration.showNotification(title, {
    body,
    icon: ICON,
    // One notification per conversation, replaced by its newer messages; renotify still alerts for each.
    tag: conversationId ?? 'parley',
    renotify: true,
    data: { conversationId, seq },
  });
  // After the notification, which matters more: Chromium's headless shell, which has no badge, ends the worker here.
  await setBadge(badge);
}

/** The unread total on the installed app's icon, where the browser has one. */
async function setBadge(badge) {
  if (badge === undefined || typeof self.navigator.setAppBadge !== 'function') return;
  try {
    await (badge > 0 ? self.navigator.setAppBadge(badge) : self.navigator.clearAppBadge());
  } catch {
    // Refused when the site is not installed as an app: the notification is what matters.
  }
}

/**
 * An open window of the app is focused and told which conversation to show:
 * the app changes its hash route in place, keeping its connection, instead of
 * reloading. Without one, a new window opens at the conversation.
 */
async function openApp(conversationId) {
  const hash = conversationId === undefined ? '#/' : `#/c/${encodeURIComponent(conversationId)}`;
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  // Chromium lists the most recently focused first.
  const [open] = windows;
  if (open === undefined) {
    await self.clients.openWindow(`/${hash}`);
    return;
  }
  open.postMessage({ type: 'parley:open', hash });
  try {
    await open.focus();
  } catch {
    // Focusing is allowed only while the click is fresh; the conversation is shown anyway.
  }
}
