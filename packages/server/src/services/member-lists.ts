/**
 * The node's cache of conversations' active member lists, for what is sent
 * to a conversation's members without a recipient list of its own: pushes
 * to connections (gateway/delivery.ts), MQTT deliveries and signals
 * (mqtt/device-delivery.ts) and notifications (push/push-service.ts). One
 * cache for all of them: a large group's message would otherwise read its
 * members from the store once per reader.
 *
 * A list is good until it is invalidated: on each 'members' bus event for
 * its conversation, by the node's Delivery, which hears every such event
 * (including those of changes made on other nodes) and writes the pushes
 * queued under the old list first; and all of them when the bus comes back
 * after an outage, by bus recovery (a 'members' event may have been lost).
 */
import { setMostRecent } from '../util/recent-map.js';
import type { ConversationService } from './conversations.js';

/** Conversations whose member lists are kept, least recently used dropped first. */
const DEFAULT_MAX_LISTS = 20_000;

/** A conversation's active members, in the order the store gave them. */
export class MemberList {
  /** Built on the first membership test: pushes only iterate the ids. */
  private idSet: ReadonlySet<string> | undefined;

  constructor(readonly ids: readonly string[]) {}

  has(userId: string): boolean {
    this.idSet ??= new Set(this.ids);
    return this.idSet.has(userId);
  }
}

interface Entry {
  list: Promise<MemberList>;
  /** Set once the read succeeded, for callers that cannot wait a turn (cached). */
  loaded?: MemberList;
}

export class MemberLists {
  /** Least recently used first (setMostRecent). */
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly conversations: Pick<ConversationService, 'activeMemberIds'>,
    private readonly maxLists = DEFAULT_MAX_LISTS,
  ) {}

  /**
   * The conversation's members. Callers that ask while the list is being
   * read share that read; a read that fails is not kept, so the next caller
   * reads again.
   */
  of(conversationId: string): Promise<MemberList> {
    const entry = this.entries.get(conversationId) ?? this.read(conversationId);
    setMostRecent(this.entries, conversationId, entry, this.maxLists);
    return entry.list;
  }

  /** The conversation's members if they are read already, else undefined (without reading them). */
  cached(conversationId: string): MemberList | undefined {
    const entry = this.entries.get(conversationId);
    if (entry?.loaded === undefined) return undefined;
    setMostRecent(this.entries, conversationId, entry, this.maxLists);
    return entry.loaded;
  }

  /**
   * Drops the conversation's list. A read in flight is dropped too: it may
   * have begun before the change, so the next caller reads afresh (callers
   * already waiting for it get what it reads).
   */
  invalidate(conversationId: string): void {
    this.entries.delete(conversationId);
  }

  invalidateAll(): void {
    this.entries.clear();
  }

  private read(conversationId: string): Entry {
    const entry: Entry = { list: this.conversations.activeMemberIds(conversationId).then((ids) => new MemberList(ids)) };
    entry.list.then(
      (list) => {
        entry.loaded = list;
      },
      () => {
        if (this.entries.get(conversationId) === entry) this.entries.delete(conversationId);
      },
    );
    return entry;
  }
}
