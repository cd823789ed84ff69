/**
 * The replay side of the webhooks: the same events the dispatcher posts,
 * read page by page from any point of the feed, for a receiver that was
 * down longer than it wants to wait for retries, or lost what it had.
 */
import { ParleyError } from '@parley/protocol';
import type { FeedStore } from './dispatcher.js';
import { FEED_START, type WebhookEvent, type WebhookEventType, decodeCursor, encodeCursor, eventOf, positionOf } from './events.js';

export const MAX_REPLAY_PAGE = 1000;

export interface ReplayPage {
  events: WebhookEvent[];
  /** Pass as `after` for the next page; equal to `after` when there was nothing more. */
  next: string;
}

export class WebhookFeed {
  constructor(
    private readonly store: Pick<FeedStore, 'messageFeed'>,
    private readonly types?: ReadonlySet<WebhookEventType>,
  ) {}

  /** Events after `after` (a cursor from an event or a page; none: from the start), at most `limit` messages read. */
  async page(after: string | undefined, limit: number): Promise<ReplayPage> {
    const from = after === undefined ? FEED_START : decodeCursor(after);
    if (from === undefined) throw new ParleyError('INVALID_ARGUMENT', 'after must be a cursor from an event or a page');
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_REPLAY_PAGE) throw new ParleyError('INVALID_ARGUMENT', `limit must be 1-${MAX_REPLAY_PAGE}`);
    const messages = await this.store.messageFeed(from, limit);
    const last = messages[messages.length - 1];
    return {
      // Types not sent to the endpoint are not replayed either; the cursor still moves past them.
      events: messages.map(eventOf).filter((event) => this.types === undefined || this.types.has(event.type)),
      next: last === undefined ? encodeCursor(from) : encodeCursor(positionOf(last)),
    };
  }
}
