/**
 * TimedStore: a Store that times another, for the operations view. Write
 * units are timed from the call to their settlement, as the services see
 * them (waiting for the writer or a conversation's lock included, failed
 * units too); reads outside units are timed per method, while reads inside
 * a unit count towards the unit. It also counts the units in flight. It adds
 * no rule: server.ts wraps whichever adapter was chosen, and everything else
 * is passed through unchanged.
 */
import type { Timing, TimingFamily } from '../util/metrics-sink.js';
import type {
  ConversationRow,
  FeedCursor,
  FeedMessage,
  FeedPosition,
  MediaReference,
  MediaRow,
  MemberRow,
  Membership,
  MembershipQuery,
  MessageFilter,
  MessageQuery,
  MessageSearch,
  PushPreviewSetting,
  RecentQuery,
  RoomPersonRow,
  Store,
  StoreReader,
  ReactionCount,
  StoreTx,
  TextVersion,
  StoredMessage,
  UserRow,
  UserSearch,
  WebPushSubscriptionRow,
  WriteOptions,
} from './store.js';

export interface StoreTimings {
  /** Write units, from the call to the commit (or the failure). */
  write: Timing;
  /** Reads outside write units, by method name. */
  read: TimingFamily;
}

type ReadName = keyof StoreReader | 'webPushSubscriptionsOf' | 'pushPreviewOf' | 'searchMessages' | 'sharedMembersOf';

const READS = [
  'getUser',
  'getUsers',
  'searchUsers',
  'countUsers',
  'getConversation',
  'getMember',
  'activeMembers',
  'senderIdsBetween',
  'textVersions',
  'hiddenSeqs',
  'reactionsIn',
  'countActiveMembers',
  'countPinned',
  'membershipsOf',
  'messageByClientId',
  'listMessages',
  'recentMessages',
  'countMessages',
  'countFollowedReplies',
  'threadFollows',
  'threadFollowers',
  'syncVersion',
  'getPasswordHash',
  'getMedia',
  'findOwnMedia',
  'mediaUsage',
  'mediaReferences',
  'roomPerson',
  'roomPeople',
  'messageFeed',
  'webPushSubscriptionsOf',
  'pushPreviewOf',
  'searchMessages',
  'sharedMembersOf',
] as const satisfies readonly ReadName[];

export class TimedStore implements Store {
  /** Write units called and not yet settled. */
  private inFlight = 0;
  /** Each read's timing, looked up once here rather than per call. */
  private readonly reads: Record<(typeof READS)[number], Timing>;

  constructor(
    private readonly inner: Store,
    private readonly timings: StoreTimings,
  ) {
    this.reads = Object.fromEntries(READS.map((name) => [name, timings.read.of(name)])) as Record<(typeof READS)[number], Timing>;
  }

  /** Write units waiting for their turn or their commit. */
  get pendingWrites(): number {
    return this.inFlight;
  }

  async write<T>(unit: (tx: StoreTx) => Promise<T>, options?: WriteOptions): Promise<T> {
    const started = performance.now();
    this.inFlight += 1;
    try {
      return await this.inner.write(unit, options);
    } finally {
      this.inFlight -= 1;
      this.timings.write.observe((performance.now() - started) / 1000);
    }
  }

  databaseId(): Promise<string> {
    return this.inner.databaseId();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  getUser(id: string): Promise<UserRow | undefined> {
    return timed(this.reads.getUser, performance.now(), this.inner.getUser(id));
  }

  getUsers(ids: readonly string[]): Promise<UserRow[]> {
    return timed(this.reads.getUsers, performance.now(), this.inner.getUsers(ids));
  }

  searchUsers(search: UserSearch): Promise<UserRow[]> {
    return timed(this.reads.searchUsers, performance.now(), this.inner.searchUsers(search));
  }

  countUsers(): Promise<number> {
    return timed(this.reads.countUsers, performance.now(), this.inner.countUsers());
  }

  getConversation(id: string): Promise<ConversationRow | undefined> {
    return timed(this.reads.getConversation, performance.now(), this.inner.getConversation(id));
  }

  getMember(conversationId: string, userId: string): Promise<MemberRow | undefined> {
    return timed(this.reads.getMember, performance.now(), this.inner.getMember(conversationId, userId));
  }

  activeMembers(conversationId: string): Promise<MemberRow[]> {
    return timed(this.reads.activeMembers, performance.now(), this.inner.activeMembers(conversationId));
  }

  senderIdsBetween(conversationId: string, fromSeq: number, toSeq: number, limit: number): Promise<string[]> {
    return timed(this.reads.senderIdsBetween, performance.now(), this.inner.senderIdsBetween(conversationId, fromSeq, toSeq, limit));
  }

  textVersions(conversationId: string, seq: number): Promise<TextVersion[]> {
    return timed(this.reads.textVersions, performance.now(), this.inner.textVersions(conversationId, seq));
  }

  reactionsIn(conversationId: string, fromSeq: number, toSeq: number, readerId: string): Promise<ReactionCount[]> {
    return timed(this.reads.reactionsIn, performance.now(), this.inner.reactionsIn(conversationId, fromSeq, toSeq, readerId));
  }

  hiddenSeqs(userId: string, conversationId: string, fromSeq: number, toSeq: number): Promise<number[]> {
    return timed(this.reads.hiddenSeqs, performance.now(), this.inner.hiddenSeqs(userId, conversationId, fromSeq, toSeq));
  }

  countActiveMembers(conversationId: string): Promise<number> {
    return timed(this.reads.countActiveMembers, performance.now(), this.inner.countActiveMembers(conversationId));
  }

  countPinned(userId: string): Promise<number> {
    return timed(this.reads.countPinned, performance.now(), this.inner.countPinned(userId));
  }

  membershipsOf(userId: string, query?: MembershipQuery): Promise<Membership[]> {
    return timed(this.reads.membershipsOf, performance.now(), this.inner.membershipsOf(userId, query));
  }

  messageByClientId(senderId: string, clientMsgId: string): Promise<StoredMessage | undefined> {
    return timed(this.reads.messageByClientId, performance.now(), this.inner.messageByClientId(senderId, clientMsgId));
  }

  listMessages(query: MessageQuery): Promise<StoredMessage[]> {
    return timed(this.reads.listMessages, performance.now(), this.inner.listMessages(query));
  }

  recentMessages(query: RecentQuery): Promise<StoredMessage[]> {
    return timed(this.reads.recentMessages, performance.now(), this.inner.recentMessages(query));
  }

  countMessages(filter: MessageFilter): Promise<number> {
    return timed(this.reads.countMessages, performance.now(), this.inner.countMessages(filter));
  }

  countFollowedReplies(filter: MessageFilter, followerId: string): Promise<number> {
    return timed(this.reads.countFollowedReplies, performance.now(), this.inner.countFollowedReplies(filter, followerId));
  }

  threadFollowers(conversationId: string, rootSeq: number, limit: number): Promise<string[]> {
    return timed(this.reads.threadFollowers, performance.now(), this.inner.threadFollowers(conversationId, rootSeq, limit));
  }

  threadFollows(conversationId: string, userId: string, rootSeqs?: readonly number[]): Promise<Map<number, number>> {
    return timed(this.reads.threadFollows, performance.now(), this.inner.threadFollows(conversationId, userId, rootSeqs));
  }

  syncVersion(): Promise<number> {
    return timed(this.reads.syncVersion, performance.now(), this.inner.syncVersion());
  }

  getPasswordHash(userId: string): Promise<string | undefined> {
    return timed(this.reads.getPasswordHash, performance.now(), this.inner.getPasswordHash(userId));
  }

  getMedia(id: string): Promise<MediaRow | undefined> {
    return timed(this.reads.getMedia, performance.now(), this.inner.getMedia(id));
  }

  findOwnMedia(ownerId: string, blobKey: string, kind: MediaRow['kind']): Promise<MediaRow | undefined> {
    return timed(this.reads.findOwnMedia, performance.now(), this.inner.findOwnMedia(ownerId, blobKey, kind));
  }

  mediaUsage(ownerId: string): Promise<number> {
    return timed(this.reads.mediaUsage, performance.now(), this.inner.mediaUsage(ownerId));
  }

  mediaReferences(mediaId: string, limit: number): Promise<MediaReference[]> {
    return timed(this.reads.mediaReferences, performance.now(), this.inner.mediaReferences(mediaId, limit));
  }

  roomPerson(conversationId: string, userId: string): Promise<RoomPersonRow | undefined> {
    return timed(this.reads.roomPerson, performance.now(), this.inner.roomPerson(conversationId, userId));
  }

  roomPeople(conversationId: string): Promise<RoomPersonRow[]> {
    return timed(this.reads.roomPeople, performance.now(), this.inner.roomPeople(conversationId));
  }

  messageFeed(after: FeedPosition, limit: number): Promise<FeedMessage[]> {
    return timed(this.reads.messageFeed, performance.now(), this.inner.messageFeed(after, limit));
  }

  /** Read for each notification sent, so timed like the other reads. */
  webPushSubscriptionsOf(userId: string): Promise<WebPushSubscriptionRow[]> {
    return timed(this.reads.webPushSubscriptionsOf, performance.now(), this.inner.webPushSubscriptionsOf(userId));
  }

  pushPreviewOf(userId: string): Promise<PushPreviewSetting | undefined> {
    return timed(this.reads.pushPreviewOf, performance.now(), this.inner.pushPreviewOf(userId));
  }

  sharedMembersOf(userId: string, candidates: readonly string[]): Promise<string[]> {
    return timed(this.reads.sharedMembersOf, performance.now(), this.inner.sharedMembersOf(userId, candidates));
  }

  searchMessages(search: MessageSearch): Promise<StoredMessage[]> {
    return timed(this.reads.searchMessages, performance.now(), this.inner.searchMessages(search));
  }

  /** Subscription and preference writes are rare (a browser subscribing, a setting changed, an endpoint gone): passed through untimed, like the cursors. */
  putWebPushSubscription(row: WebPushSubscriptionRow): Promise<void> {
    return this.inner.putWebPushSubscription(row);
  }

  deleteWebPushSubscription(endpoint: string, userId?: string): Promise<boolean> {
    return this.inner.deleteWebPushSubscription(endpoint, userId);
  }

  setPushPreview(userId: string, preview: PushPreviewSetting | undefined): Promise<void> {
    return this.inner.setPushPreview(userId, preview);
  }

  /** Cursor writes are a dispatcher's bookkeeping, not the message path's: passed through untimed. */
  claimFeedCursor(name: string, holder: string, now: number, leaseMs: number, start: FeedPosition): Promise<FeedCursor | undefined> {
    return this.inner.claimFeedCursor(name, holder, now, leaseMs, start);
  }

  saveFeedCursor(name: string, holder: string, position: FeedPosition): Promise<boolean> {
    return this.inner.saveFeedCursor(name, holder, position);
  }
}

/** Settles like `pending`, after recording how long it took since `started` (performance.now()). */
async function timed<T>(timing: Timing, started: number, pending: Promise<T>): Promise<T> {
  try {
    return await pending;
  } finally {
    timing.observe((performance.now() - started) / 1000);
  }
}
