/**
 * The PushSender port: how Parley reaches users whose apps are closed. The
 * push service (push-service.ts) decides who gets a notification and what
 * it says; an adapter hands notifications to a platform: the host's own
 * APNs/FCM sender behind a webhook (webhook-push.ts), or the browsers' Web
 * Push services.
 */

/** What one user is told, for one window of messages (push-service.ts coalesces). */
export interface PushNotification {
  userId: string;
  /** The conversation to open: the newest message's. */
  conversationId: string;
  /** Its newest message's seq, so the app can open the conversation there. */
  seq: number;
  /** How many messages this notification stands for (several within the coalescing window). */
  count: number;
  /** A sender's or a group's name; "New messages" when previews are hidden. */
  title: string;
  /** The preview, as the deployment's preview setting allows. */
  body: string;
  /** The user's unread messages over all conversations, for the app icon. */
  badge: number;
}

export interface PushSender {
  /**
   * Hands notifications over. Resolves once the adapter took charge of them
   * (it retries on its own); it never throws for a platform's failure.
   */
  send(notifications: readonly PushNotification[]): Promise<void>;
  /**
   * Whether the adapter has anywhere to deliver a user's notifications (a
   * registered browser, say). Without it every user is reachable. Asked
   * before a notification is composed, which reads the user's unread count.
   * Advisory: beside other adapters, `send` may still be handed a user this
   * one does not reach, and delivers nothing for them.
   */
  reaches?(userId: string): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * Several adapters as one (the host's mobile push behind a webhook and Web
 * Push to browsers, say): each gets every notification and skips the users
 * it does not reach, so a user's reachability is looked up once per adapter,
 * by the adapter, not again here.
 */
export function allPushSenders(senders: readonly PushSender[]): PushSender | undefined {
  if (senders.length <= 1) return senders[0];
  return {
    async send(notifications) {
      await Promise.all(senders.map((sender) => sender.send(notifications)));
    },
    async reaches(userId) {
      // In order, stopping at the first yes: an adapter without `reaches` (a webhook) answers without a lookup.
      for (const sender of senders) if (sender.reaches === undefined || (await sender.reaches(userId))) return true;
      return false;
    },
    async close() {
      await Promise.all(senders.map((sender) => sender.close()));
    },
  };
}
