/**
 * Offline notifications, from the app's side: registering this browser for
 * Web Push (docs/push.md) and the user's own preview setting. The browser
 * entry adds enableWebPush/disableWebPush, which get the subscription from
 * a service worker and hand it here.
 */
import { ParleyError } from '@parley/protocol';
import type { RestApi } from './http.js';

/** How much of a message the user's notifications show. */
export type PushPreview = 'full' | 'sender' | 'hidden';

/** A W3C PushSubscription as `toJSON()` gives it (expirationTime is ignored). */
export interface WebPushSubscriptionJson {
  endpoint: string;
  keys: { p256dh: string; auth: string };
  expirationTime?: number | null;
}

export interface PushPreferences {
  /** The user's own choice; undefined when the deployment's applies. */
  preview: PushPreview | undefined;
  deploymentDefault: PushPreview;
}

export class PushSettings {
  constructor(private readonly rest: RestApi) {}

  /** The server's VAPID public key (base64url) for `pushManager.subscribe`; undefined when the server has Web Push off. */
  async webPushKey(): Promise<string | undefined> {
    const body = await this.rest.call<{ enabled: boolean; publicKey?: string }>('GET', '/push/web');
    return body?.enabled === true ? body.publicKey : undefined;
  }

  /** Notifications for this user go to this browser from now on (until unregistered, or the browser drops it). */
  async registerWebPush(subscription: WebPushSubscriptionJson): Promise<void> {
    const keys = subscription?.keys;
    if (typeof subscription?.endpoint !== 'string' || typeof keys?.p256dh !== 'string' || typeof keys.auth !== 'string') {
      throw new ParleyError('INVALID_ARGUMENT', 'a Web Push subscription has an endpoint and keys.p256dh and keys.auth');
    }
    await this.rest.call('PUT', '/push/web/subscriptions', { endpoint: subscription.endpoint, keys: { p256dh: keys.p256dh, auth: keys.auth } });
  }

  /** No more notifications to this browser. Unregistering one that is not registered is not an error. */
  async unregisterWebPush(endpoint: string): Promise<void> {
    await this.rest.call('DELETE', '/push/web/subscriptions', { endpoint });
  }

  async preferences(): Promise<PushPreferences> {
    const body = await this.rest.call<{ preview: PushPreview | null; deploymentDefault: PushPreview }>('GET', '/push/preferences');
    if (body === undefined) throw new ParleyError('INTERNAL', 'the server sent no push preferences');
    return { preview: body.preview ?? undefined, deploymentDefault: body.deploymentDefault };
  }

  /** Sets how much this user's notifications show, on every device; undefined returns to the deployment's setting. */
  async setPreview(preview: PushPreview | undefined): Promise<void> {
    await this.rest.call('PUT', '/push/preferences', { preview: preview ?? null });
  }
}
