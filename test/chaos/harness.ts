/**
 * The chaos harness: builds a population on a running server (users, several
 * devices per user, each its own ParleyClient; direct conversations, with and
 * without a subject, and groups), drives concurrent sends and reads from every
 * device, waits for every device to converge once the faults stop, and hands
 * what the application saw to checks.ts. It knows nothing about faults: a
 * scenario (scenarios.ts) decides where each device connects and what breaks.
 */
import { type Message, ParleyClient } from '@parley/client';
import type { AdminApi } from '../support/fixtures.js';
import { type CheckResult, type DeviceRecord, type LocalSummary, type MembershipHistory, type SendRecord, type ServerUserView, chaosText, check } from './checks.js';

export type Transport = 'ws' | 'tcp';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---- population ----

export interface DeviceSpec {
  /** "u03/1": user u03, its second device. */
  key: string;
  userId: string;
  /** Position among all devices, from 0. */
  ordinal: number;
  transport: Transport;
}

export interface ConversationSpec {
  kind: 'direct' | 'group';
  /** Groups: the id. Directs: known once opened. */
  id: string;
  members: string[];
  /** Directs: a business subject, or ''. */
  subject: string;
}

export interface PopulationPlan {
  users: string[];
  devices: DeviceSpec[];
  conversations: ConversationSpec[];
}

/** How many devices each user has, cycled over the users: most have several. */
const DEVICES_PER_USER = [3, 2, 1, 2];

/**
 * `userCount` users with 1–3 devices each (transports alternate), a ring of
 * direct conversations, a second direct conversation about a subject, a group
 * of everyone and small overlapping groups.
 */
export function planPopulation(userCount: number): PopulationPlan {
  if (userCount < 3) throw new Error('a chaos population needs at least 3 users');
  const users = Array.from({ length: userCount }, (_, n) => `u${String(n).padStart(2, '0')}`);
  const devices: DeviceSpec[] = [];
  users.forEach((userId, n) => {
    const count = DEVICES_PER_USER[n % DEVICES_PER_USER.length] as number;
    for (let d = 0; d < count; d++) {
      const ordinal = devices.length;
      devices.push({ key: `${userId}/${d}`, userId, ordinal, transport: ordinal % 2 === 0 ? 'ws' : 'tcp' });
    }
  });
  const at = (n: number) => users[n % userCount] as string;
  const conversations: ConversationSpec[] = [];
  for (let n = 0; n < userCount; n++) conversations.push({ kind: 'direct', id: '', members: [at(n), at(n + 1)], subject: '' });
  conversations.push({ kind: 'direct', id: '', members: [at(0), at(1)], subject: 'order-42' });
  conversations.push({ kind: 'group', id: 'everyone', members: [...users], subject: '' });
  for (let start = 0, n = 0; start < userCount; start += 3, n++) {
    const members = [...new Set([at(start), at(start + 1), at(start + 2), at(start + 4)])];
    conversations.push({ kind: 'group', id: `team-${n}`, members, subject: '' });
  }
  return { users, devices, conversations };
}

/** Creates the users and conversations of a plan; fills in direct conversation ids. */
export async function createPopulation(plan: PopulationPlan, api: AdminApi, setupUrl: string): Promise<void> {
  for (const userId of plan.users) await api.createUser(userId, userId.toUpperCase());
  for (const conversation of plan.conversations) {
    if (conversation.kind === 'group') {
      const [ownerId, ...memberIds] = conversation.members as [string, ...string[]];
      await api.createGroup({ id: conversation.id, name: conversation.id, ownerId, memberIds });
      continue;
    }
    const [userId, peerId] = conversation.members as [string, string];
    const client = new ParleyClient({ url: setupUrl, token: await api.token(userId), reconnect: false });
    try {
      await client.connect();
      conversation.id = await client.direct(peerId, conversation.subject === '' ? {} : { subject: conversation.subject });
    } finally {
      await client.close();
    }
  }
}

// ---- devices ----

export interface DeviceOptions {
  url: string;
  /** Called on every (re)connect, as an application would fetch a fresh token. */
  token: () => Promise<string>;
}

/**
 * Far more than any run sends, so that a client meeting a conversation owes
 * every message from the user's first seq (and a fresh client every unread
 * one), not just the newest 100.
 */
const INITIAL_BACKLOG = 1_000_000;

/** One device: a client and everything the application saw from it. */
export class Device {
  readonly client: ParleyClient;
  readonly events: Message[] = [];
  readonly sends: SendRecord[] = [];
  /** Connections lost (state 'reconnecting' entered). */
  reconnects = 0;
  /** Errors emitted on the 'error' event (background failures). */
  readonly backgroundErrors: string[] = [];
  startSeq = new Map<string, number>();
  /** Set once the device was closed mid-run (an app restart): per conversation, the highest seq it emitted. */
  closedThrough: Map<string, number> | undefined;
  /** The conversations this device sends to and reads; changes as conversations are created and members come and go. */
  readonly conversationIds: string[];
  private sendCount = 0;
  /** Highest seq emitted per conversation. */
  private readonly highest = new Map<string, number>();

  /**
   * `startAtOpen`: a client that joins mid-run; its start point is what it
   * shows when it first opens (right after connect() resolves), for every
   * conversation it lists then.
   */
  constructor(
    readonly spec: DeviceSpec,
    conversationIds: readonly string[],
    options: DeviceOptions,
    startAtOpen = false,
  ) {
    this.conversationIds = [...conversationIds];
    this.client = new ParleyClient({
      url: options.url,
      token: options.token,
      // Faster than the defaults (250 ms → 10 s) so that a run converges in seconds; same algorithm.
      reconnect: { minDelayMs: 100, maxDelayMs: 2000 },
      // The default 15 s also bounds the handshake, the one stretch no heartbeat watches: a connection
      // that dies silently before the welcome would hold a device that long after the faults stop.
      requestTimeoutMs: 5000,
      initialBacklog: INITIAL_BACKLOG,
    });
    if (startAtOpen) {
      const stop = this.client.on('state', ({ state }) => {
        if (state !== 'open') return;
        stop();
        this.startSeq = new Map(this.client.conversations().map((summary) => [summary.id, summary.lastSeq]));
      });
    }
    this.client.on('message', (message) => {
      this.events.push(message);
      if (message.seq > (this.highest.get(message.conversationId) ?? 0)) this.highest.set(message.conversationId, message.seq);
    });
    this.client.on('state', ({ state }) => {
      if (state === 'reconnecting') this.reconnects += 1;
    });
    this.client.on('error', (error) => {
      if (this.backgroundErrors.length < 20) this.backgroundErrors.push(`${error.codeName}: ${error.message}`);
    });
  }

  get key(): string {
    return this.spec.key;
  }

  get userId(): string {
    return this.spec.userId;
  }

  get pendingSends(): number {
    let pending = 0;
    for (const send of this.sends) if (send.status === 'pending') pending += 1;
    return pending;
  }

  /** Sends the device's next tagged message; the record settles with send(). */
  send(conversationId: string): void {
    const index = this.sendCount++;
    const record: SendRecord = { deviceKey: this.key, conversationId, index, status: 'pending' };
    this.sends.push(record);
    this.client.send(conversationId, { text: chaosText(this.key, index) }).then(
      (message) => {
        record.status = 'acked';
        record.message = message;
      },
      (error: unknown) => {
        record.status = 'rejected';
        record.error = error instanceof Error ? `${(error as { codeName?: string }).codeName ?? error.name}: ${error.message}` : String(error);
      },
    );
  }

  /** Highest seq emitted for a conversation, or where the device started. */
  heldThrough(conversationId: string): number {
    return Math.max(this.startSeq.get(conversationId) ?? 0, this.highest.get(conversationId) ?? 0);
  }

  /** Marks where the device stands in each conversation: every later seq must reach it. */
  markStart(): void {
    this.startSeq = new Map(this.conversationIds.map((id) => [id, this.client.conversation(id)?.lastSeq ?? 0]));
  }

  get retired(): boolean {
    return this.closedThrough !== undefined;
  }

  /** Closes the client for good mid-run, as an app that quits: from now on it owes nothing beyond what it emitted. */
  async retire(): Promise<void> {
    this.closedThrough = new Map(this.highest);
    await this.client.close();
  }

  record(): DeviceRecord {
    const summaries = new Map<string, LocalSummary>();
    for (const summary of this.client.conversations()) {
      summaries.set(summary.id, { lastSeq: summary.lastSeq, readSeq: summary.readSeq, unread: summary.unread });
    }
    const record: DeviceRecord = { key: this.key, userId: this.userId, events: this.events, startSeq: this.startSeq, summaries, totalUnread: this.client.totalUnread };
    if (this.closedThrough !== undefined) record.closedThrough = this.closedThrough;
    return record;
  }
}

/** Creates and connects every device of a plan; resolves once all are connected and caught up. */
export async function connectDevices(plan: PopulationPlan, options: (spec: DeviceSpec) => DeviceOptions): Promise<Device[]> {
  const devices = plan.devices.map((spec) => {
    const conversationIds = plan.conversations.filter((conversation) => conversation.members.includes(spec.userId)).map((conversation) => conversation.id);
    return new Device(spec, conversationIds, options(spec));
  });
  await Promise.all(devices.map((device) => device.client.connect()));
  await waitUntil(() => devices.every((device) => device.conversationIds.every((id) => device.heldThrough(id) >= (device.client.conversation(id)?.lastSeq ?? 0))), 15_000);
  for (const device of devices) device.markStart();
  return devices;
}

// ---- traffic ----

export interface TrafficOptions {
  /** Mean time between two sends of one device. */
  sendIntervalMs: number;
  /** Mean time between two mark-reads of one device. */
  readIntervalMs: number;
  /** A device with this many unacknowledged sends skips its turn (offline devices keep a bounded queue). */
  maxPendingPerDevice: number;
  random: () => number;
}

export interface Traffic {
  /** A device that joined mid-run takes part from now on. */
  add(device: Device): void;
  /** A device leaves the traffic (before an app restart closes it). */
  remove(device: Device): void;
  /** No more sends; reads go on (a last stretch in which only reads happen, still under faults). */
  stopSending(): void;
  stop(): void;
}

/**
 * Every device sends tagged messages to its user's conversations at random,
 * several in flight, and now and then marks a conversation read, until
 * stopped. Mark-reads may fail during faults (the promise rejects; the SDK
 * still owes the server the local read).
 */
export function startTraffic(devices: readonly Device[], options: TrafficOptions): Traffic {
  let running = true;
  let sending = true;
  const timers = new Map<Device, Set<ReturnType<typeof setTimeout>>>();
  const every = (device: Device, meanMs: number, task: () => void) => {
    const own = timers.get(device) as Set<ReturnType<typeof setTimeout>>;
    const schedule = () => {
      if (!running || !timers.has(device)) return;
      const timer = setTimeout(() => {
        own.delete(timer);
        if (!running || !timers.has(device)) return;
        task();
        schedule();
      }, meanMs * (0.5 + options.random()));
      own.add(timer);
    };
    schedule();
  };
  const pick = <T>(items: readonly T[]): T | undefined => (items.length === 0 ? undefined : (items[Math.floor(options.random() * items.length)] as T));
  const add = (device: Device) => {
    if (timers.has(device) || !running) return;
    timers.set(device, new Set());
    every(device, options.sendIntervalMs, () => {
      if (!sending || device.pendingSends >= options.maxPendingPerDevice) return;
      const conversationId = pick(device.conversationIds);
      if (conversationId !== undefined) device.send(conversationId);
    });
    every(device, options.readIntervalMs, () => {
      const conversationId = pick(device.conversationIds);
      if (device.client.state !== 'open' || conversationId === undefined) return;
      device.client.markRead(conversationId).catch(() => {});
    });
  };
  const remove = (device: Device) => {
    for (const timer of timers.get(device) ?? []) clearTimeout(timer);
    timers.delete(device);
  };
  for (const device of devices) add(device);
  return {
    add,
    remove,
    stopSending() {
      sending = false;
    },
    stop() {
      running = false;
      for (const device of [...timers.keys()]) remove(device);
    },
  };
}

/**
 * Every device marks every one of its conversations read, without waiting:
 * the last act of a run, made while faults still fire, so that a read lost
 * then can only be repaired by the SDK itself. Resolves when all settled.
 */
export async function readEverything(devices: readonly Device[]): Promise<void> {
  const reads: Array<Promise<unknown>> = [];
  for (const device of devices) {
    if (device.client.state !== 'open') continue;
    for (const conversationId of device.conversationIds) reads.push(device.client.markRead(conversationId).catch(() => {}));
  }
  await Promise.all(reads);
}

// ---- convergence and checks ----

/** The server's view of every user's conversations, from the admin REST API. */
export async function serverViews(api: AdminApi, users: readonly string[]): Promise<Map<string, ServerUserView>> {
  const views = new Map<string, ServerUserView>();
  for (const userId of users) {
    const { status, body } = await api.call('GET', `/v1/users/${userId}/conversations`);
    if (status !== 200) throw new Error(`conversations of ${userId}: ${status} ${JSON.stringify(body)}`);
    const conversations = new Map(
      (body.conversations as Array<{ id: string; lastSeq: number; readSeq: number; unread: number; firstSeq: number; leftSeq: number }>).map((view) => [
        view.id,
        { lastSeq: view.lastSeq, readSeq: view.readSeq, unread: view.unread, firstSeq: view.firstSeq, leftSeq: view.leftSeq },
      ]),
    );
    views.set(userId, { totalUnread: body.totalUnread as number, conversations });
  }
  return views;
}

/** Why the devices have not converged yet, or undefined when they have. */
function notConverged(devices: readonly Device[], views: ReadonlyMap<string, ServerUserView>): string | undefined {
  for (const device of devices) {
    const pending = device.pendingSends;
    if (pending > 0) return `${device.key} has ${pending} unacknowledged sends (state ${device.client.state})`;
  }
  for (const device of devices) {
    if (device.retired) continue;
    const view = views.get(device.userId);
    if (view === undefined) return `no server view of ${device.userId}`;
    for (const [conversationId, server] of view.conversations) {
      const local = device.client.conversation(conversationId);
      if (local === undefined && server.lastSeq === 0) continue; // no message yet: nothing announces it
      const through = server.leftSeq > 0 ? Math.min(server.lastSeq, server.leftSeq) : server.lastSeq;
      if (device.heldThrough(conversationId) < through) return `${device.key} holds ${conversationId} through ${device.heldThrough(conversationId)} of ${through}`;
      if (local === undefined || local.lastSeq !== server.lastSeq || local.unread !== server.unread) {
        return `${device.key} shows ${conversationId} at ${local?.lastSeq}/unread ${local?.unread}, server ${server.lastSeq}/unread ${server.unread}`;
      }
    }
    if (device.client.totalUnread !== view.totalUnread) return `${device.key} totalUnread ${device.client.totalUnread}, server ${view.totalUnread}`;
  }
  return undefined;
}

export interface Convergence {
  converged: boolean;
  /** From the call until every device converged (or the deadline). */
  ms: number;
  /** What was still off at the deadline. */
  reason?: string;
}

/**
 * Waits until every send settled and every device holds every message and
 * shows the server's unread counts. The server's view is read each round:
 * nothing changes it any more once traffic stopped.
 */
export async function awaitConvergence(
  devices: readonly Device[],
  api: AdminApi,
  users: readonly string[],
  deadlineMs: number,
  log: (line: string) => void = () => {},
): Promise<Convergence> {
  const started = Date.now();
  let reason: string | undefined = 'not checked';
  let reportedAt = started;
  while (Date.now() - started < deadlineMs) {
    let views: Map<string, ServerUserView> | undefined;
    try {
      views = await serverViews(api, users);
    } catch (error) {
      reason = `server view unavailable: ${(error as Error).message}`;
    }
    if (views !== undefined) {
      reason = notConverged(devices, views);
      if (reason === undefined) return { converged: true, ms: Date.now() - started };
    }
    if (Date.now() - reportedAt >= 2000) {
      reportedAt = Date.now();
      log(`still converging after ${((reportedAt - started) / 1000).toFixed(0)} s: ${reason}`);
    }
    await sleep(50);
  }
  return { converged: false, ms: Date.now() - started, reason };
}

/** How long to keep listening after convergence, so that late duplicates would still be seen. */
const DUPLICATE_GRACE_MS = 300;

/** Runs the checks on what the devices saw, against the server's final view (and the membership history, when members changed). */
export async function collect(devices: readonly Device[], api: AdminApi, users: readonly string[], memberships: MembershipHistory = new Map()): Promise<CheckResult> {
  await sleep(DUPLICATE_GRACE_MS);
  const views = await serverViews(api, users);
  return check(
    devices.map((device) => device.record()),
    devices.flatMap((device) => device.sends),
    views,
    memberships,
  );
}

/** Polls until a condition holds; throws after timeoutMs. */
export async function waitUntil(condition: () => boolean, timeoutMs: number, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
