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
  close(): Promise<void>;
}
