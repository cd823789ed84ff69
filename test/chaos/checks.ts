/**
 * The convergence checks of a chaos run, computed only from what the
 * application saw: the messages each client emitted as 'message' events,
 * what each send() returned, each client's conversation list, and the
 * server's own per-user view (admin REST). Pure: no I/O. The definitions are
 * those of docs/reliability.md, "What the chaos checks count".
 */
import assert from 'node:assert/strict';
import type { Message } from '@parley/client';

/** One send() call, as the application saw it. */
export interface SendRecord {
  deviceKey: string;
  conversationId: string;
  /** Position of this send in its device's send order (all conversations), from 0. */
  index: number;
  status: 'pending' | 'acked' | 'rejected';
  /** The stored message send() resolved with. */
  message?: Message;
  /** Why send() rejected. */
  error?: string;
}

/** A conversation as a user's client shows it once the run is over. */
export interface LocalSummary {
  lastSeq: number;
  readSeq: number;
  unread: number;
}

/** One device (one client instance) after the run. */
export interface DeviceRecord {
  key: string;
  userId: string;
  /** Every 'message' event, in emission order. */
  events: readonly Message[];
  /**
   * Per conversation, the lastSeq the client showed when it started (when
   * traffic started, or right after a client that joined mid-run connected):
   * every later readable seq must be emitted. A conversation missing here was
   * first seen after the client started: every readable seq from the user's
   * first seq on must be emitted.
   */
  startSeq: ReadonlyMap<string, number>;
  /**
   * Set for a client closed before the end of the run (an app restart): per
   * conversation, the highest seq it emitted. It owes nothing above that, and
   * its unread counts are not compared (it no longer runs).
   */
  closedThrough?: ReadonlyMap<string, number>;
  summaries: ReadonlyMap<string, LocalSummary>;
  totalUnread: number;
}

/** A stretch of a conversation a user may read: from the seq at which it joined through the seq at which it left. */
export interface SeqWindow {
  from: number;
  /** Undefined while the user is still a member: through the last seq. */
  through?: number;
}

/**
 * For conversations whose membership changed during the run: per user, every
 * window in which it was a member, oldest first. The server keeps a member's
 * first seq and left seq, not the times in between when it was out, so the
 * harness records each window as the change happens.
 */
export type MembershipHistory = ReadonlyMap<string, ReadonlyMap<string, readonly SeqWindow[]>>;

/** One conversation as the server sees it for one user. */
export interface ServerConversation {
  /** Highest seq this user may read (the conversation's last seq, or the seq at which the user left). */
  lastSeq: number;
  readSeq: number;
  unread: number;
  firstSeq: number;
  /** 0 while the user is a member. */
  leftSeq: number;
}

export interface ServerUserView {
  totalUnread: number;
  conversations: ReadonlyMap<string, ServerConversation>;
}

export interface CheckResult {
  /** send() calls. */
  sent: number;
  /** send() calls that resolved. */
  acked: number;
  /** send() calls that rejected: each is a failure, the SDK retries through faults. */
  rejected: number;
  /** send() calls that had not settled when the run ended. */
  pending: number;
  /** Sum over acked messages of the member devices that must show them. */
  expectedDeliveries: number;
  /** Of those, how many were emitted by the device (same conversation, seq and id). */
  delivered: number;
  /** Emissions that repeated, on one device, a (conversation, seq), a message id, or a send already shown. */
  duplicates: number;
  /** Seqs missing from a device's contiguous range of a conversation. */
  gaps: number;
  /** Seq order broken on a device, devices (or an ack) disagreeing on a seq, or a sender's order broken. */
  orderViolations: number;
  /** Unread counts or totals that disagree with the server, with each other, or with the messages. */
  unreadMismatches: number;
  /** Messages emitted on a device whose user may not read them. */
  misdelivered: number;
  /** Users whose final membership on the server disagrees with the recorded history (first or left seq). */
  membershipMismatches: number;
  /** The first problems found, for humans. */
  problems: string[];
}

/**
 * The delivery guarantee, as the chaos and cluster suites assert it: the run
 * converged, every send was acked, and every acked message reached every
 * member device exactly once, in order, without gaps, to no one else, with
 * unread counts equal to the server's. `details` goes with each failure.
 */
export function assertDeliveredOnce(checks: CheckResult, converged: boolean, details: string): void {
  assert.ok(converged, details);
  assert.equal(checks.acked, checks.sent, details);
  assert.equal(checks.delivered, checks.expectedDeliveries, details);
  assert.equal(checks.duplicates, 0, details);
  assert.equal(checks.gaps, 0, details);
  assert.equal(checks.orderViolations, 0, details);
  assert.equal(checks.unreadMismatches, 0, details);
  assert.equal(checks.misdelivered, 0, details);
}

const MAX_PROBLEMS = 20;
const TAG = /^chaos\|([^|]+)\|(\d+)$/;

/** The text of the `index`-th message sent by a device: lets any receiver tell who sent it and in which order. */
export function chaosText(deviceKey: string, index: number): string {
  return `chaos|${deviceKey}|${index}`;
}

function parseTag(message: Message): { deviceKey: string; index: number } | undefined {
  const match = message.type === 'user' && message.text !== undefined ? TAG.exec(message.text) : null;
  return match === null ? undefined : { deviceKey: match[1] as string, index: Number(match[2]) };
}

/** The highest seq a member may read: its left seq when it left, else the conversation's. */
function readableThrough(view: ServerConversation): number {
  return view.leftSeq > 0 ? Math.min(view.lastSeq, view.leftSeq) : view.lastSeq;
}

interface ClosedWindow {
  from: number;
  through: number;
}

/** Every window of a conversation a user may read: from the recorded history, else the server's one window. */
function windowsOf(server: ReadonlyMap<string, ServerUserView>, memberships: MembershipHistory, userId: string, conversationId: string): ClosedWindow[] {
  const view = server.get(userId)?.conversations.get(conversationId);
  const history = memberships.get(conversationId);
  if (history !== undefined) {
    const end = view === undefined ? 0 : readableThrough(view);
    return (history.get(userId) ?? []).map((window) => ({ from: Math.max(1, window.from), through: window.through ?? end }));
  }
  return view === undefined ? [] : [{ from: Math.max(1, view.firstSeq), through: readableThrough(view) }];
}

function inWindows(windows: readonly ClosedWindow[], seq: number): boolean {
  return windows.some((window) => seq >= window.from && seq <= window.through);
}

/** What a device owes for a conversation: the seqs in (lowest - 1, highest], within the user's windows. */
function owedRange(device: DeviceRecord, conversationId: string): { after: number; through: number } {
  return { after: device.startSeq.get(conversationId) ?? 0, through: device.closedThrough === undefined ? Number.POSITIVE_INFINITY : (device.closedThrough.get(conversationId) ?? 0) };
}

export function check(
  devices: readonly DeviceRecord[],
  sends: readonly SendRecord[],
  server: ReadonlyMap<string, ServerUserView>,
  memberships: MembershipHistory = new Map(),
): CheckResult {
  const result: CheckResult = {
    sent: sends.length,
    acked: 0,
    rejected: 0,
    pending: 0,
    expectedDeliveries: 0,
    delivered: 0,
    duplicates: 0,
    gaps: 0,
    orderViolations: 0,
    unreadMismatches: 0,
    misdelivered: 0,
    membershipMismatches: 0,
    problems: [],
  };
  const windows = (userId: string, conversationId: string) => windowsOf(server, memberships, userId, conversationId);
  const problem = (text: string) => {
    if (result.problems.length < MAX_PROBLEMS) result.problems.push(text);
  };

  // What each device emitted, first emission per (conversation, seq).
  const emitted = new Map<string, Map<string, Map<number, Message>>>();
  /** Per (conversation, seq): the message id the first device to emit it saw. */
  const consensus = new Map<string, string>();
  for (const device of devices) {
    const byConversation = new Map<string, Map<number, Message>>();
    emitted.set(device.key, byConversation);
    const ids = new Set<string>();
    /** Sends shown (sender and send index): a send stored twice shows twice under different seqs. */
    const tags = new Set<string>();
    const highest = new Map<string, number>();
    for (const message of device.events) {
      let seqs = byConversation.get(message.conversationId);
      if (seqs === undefined) {
        seqs = new Map();
        byConversation.set(message.conversationId, seqs);
      }
      if (seqs.has(message.seq) || ids.has(message.id)) {
        result.duplicates += 1;
        problem(`${device.key}: ${message.conversationId}#${message.seq} (id ${message.id}) emitted twice`);
        continue;
      }
      seqs.set(message.seq, message);
      ids.add(message.id);
      const tag = parseTag(message);
      if (tag !== undefined) {
        const sendKey = `${tag.deviceKey}|${tag.index}`;
        if (tags.has(sendKey)) {
          result.duplicates += 1;
          problem(`${device.key}: send ${tag.index} of ${tag.deviceKey} shown twice (again as ${message.conversationId}#${message.seq})`);
        }
        tags.add(sendKey);
      }
      const previous = highest.get(message.conversationId) ?? 0;
      if (message.seq < previous) {
        result.orderViolations += 1;
        problem(`${device.key}: ${message.conversationId}#${message.seq} emitted after #${previous}`);
      }
      highest.set(message.conversationId, Math.max(previous, message.seq));
      const key = `${message.conversationId}#${message.seq}`;
      const agreed = consensus.get(key);
      if (agreed === undefined) consensus.set(key, message.id);
      else if (agreed !== message.id) {
        result.orderViolations += 1;
        problem(`${device.key}: ${key} is message ${message.id}, another device has ${agreed}`);
      }
      if (!inWindows(windows(device.userId, message.conversationId), message.seq)) {
        result.misdelivered += 1;
        problem(`${device.key}: ${key} emitted to ${device.userId}, who may not read it`);
      }
    }
  }

  // Acked messages reach every device of every member, and the ack agrees with them.
  const devicesOf = new Map<string, DeviceRecord[]>();
  for (const device of devices) devicesOf.set(device.userId, [...(devicesOf.get(device.userId) ?? []), device]);
  const ackedBySender = new Map<string, SendRecord[]>();
  for (const send of sends) {
    if (send.status === 'pending') {
      result.pending += 1;
      problem(`${send.deviceKey}: send #${send.index} to ${send.conversationId} never settled`);
      continue;
    }
    if (send.status === 'rejected') {
      result.rejected += 1;
      problem(`${send.deviceKey}: send #${send.index} to ${send.conversationId} rejected: ${send.error ?? '?'}`);
      continue;
    }
    result.acked += 1;
    const message = send.message as Message;
    const key = `${message.conversationId}#${message.seq}`;
    const agreed = consensus.get(key);
    if (agreed !== undefined && agreed !== message.id) {
      result.orderViolations += 1;
      problem(`${send.deviceKey}: ack says ${key} is ${message.id}, devices show ${agreed}`);
    }
    const senderKey = `${send.deviceKey} ${message.conversationId}`;
    ackedBySender.set(senderKey, [...(ackedBySender.get(senderKey) ?? []), send]);
    for (const userId of server.keys()) {
      if (!inWindows(windows(userId, message.conversationId), message.seq)) continue;
      for (const device of devicesOf.get(userId) ?? []) {
        // A client that started after this message, or was closed before it, does not owe it.
        const owed = owedRange(device, message.conversationId);
        if (message.seq <= owed.after || message.seq > owed.through) continue;
        result.expectedDeliveries += 1;
        const shown = emitted.get(device.key)?.get(message.conversationId)?.get(message.seq);
        if (shown !== undefined && shown.id === message.id) result.delivered += 1;
        else problem(`${device.key}: acked ${key} (from ${send.deviceKey}) ${shown === undefined ? 'never emitted' : `shown as ${shown.id}`}`);
      }
    }
  }

  // Per sender and conversation, send order is seq order...
  for (const [senderKey, acked] of ackedBySender) {
    const inOrder = [...acked].sort((a, b) => a.index - b.index);
    for (let at = 1; at < inOrder.length; at++) {
      const before = (inOrder[at - 1] as SendRecord).message as Message;
      const after = (inOrder[at] as SendRecord).message as Message;
      if (after.seq <= before.seq) {
        result.orderViolations += 1;
        problem(`${senderKey}: sent #${before.seq} then #${after.seq}`);
      }
    }
  }
  // ...and every device shows each sender's messages in the order they were sent.
  for (const device of devices) {
    const lastIndex = new Map<string, number>();
    for (const message of device.events) {
      const tag = parseTag(message);
      if (tag === undefined) continue;
      const key = `${tag.deviceKey} ${message.conversationId}`;
      const previous = lastIndex.get(key);
      if (previous !== undefined && tag.index <= previous) {
        if (tag.index < previous) {
          result.orderViolations += 1;
          problem(`${device.key}: shows ${tag.deviceKey}'s send ${tag.index} after ${previous} in ${message.conversationId}`);
        }
        continue;
      }
      lastIndex.set(key, tag.index);
    }
  }

  // Gaps: from where the device started (or its first emission) to the last readable seq, every seq in the user's windows once.
  for (const device of devices) {
    const view = server.get(device.userId);
    if (view === undefined) continue;
    const conversationIds = new Set(view.conversations.keys());
    for (const [conversationId, history] of memberships) if (history.has(device.userId)) conversationIds.add(conversationId);
    for (const conversationId of conversationIds) {
      const seqs = emitted.get(device.key)?.get(conversationId) ?? new Map<number, Message>();
      const firstEmitted = Math.min(...seqs.keys());
      const owed = owedRange(device, conversationId);
      const lowest = Math.min(owed.after + 1, firstEmitted);
      for (const window of windows(device.userId, conversationId)) {
        const from = Math.max(window.from, lowest);
        const through = Math.min(window.through, owed.through);
        let missing = 0;
        for (let seq = from; seq <= through; seq++) if (!seqs.has(seq)) missing += 1;
        if (missing > 0) {
          result.gaps += missing;
          problem(`${device.key}: ${missing} seq(s) missing in ${conversationId} between ${from} and ${through}`);
        }
      }
    }
  }

  // The recorded membership history spans what the server says of each user:
  // its first window starts at the server's first seq (a member added back
  // keeps it; the time away is an absence), its last ends at the server's left seq.
  for (const [conversationId, history] of memberships) {
    for (const [userId, userWindows] of history) {
      const first = userWindows[0];
      const last = userWindows[userWindows.length - 1];
      const view = server.get(userId)?.conversations.get(conversationId);
      if (first === undefined || last === undefined) continue;
      if (view === undefined || view.firstSeq !== Math.max(1, first.from) || view.leftSeq !== (last.through ?? 0)) {
        result.membershipMismatches += 1;
        problem(`${userId}: ${conversationId} recorded as ${first.from}..${last.through ?? 'now'}, server ${view === undefined ? 'has no membership' : `${view.firstSeq}..${view.leftSeq || 'now'}`}`);
      }
    }
  }

  // Unread: every running device agrees with the server, its total with its list, and the server with the messages.
  for (const device of devices) {
    const view = server.get(device.userId);
    if (view === undefined || device.closedThrough !== undefined) continue;
    let sum = 0;
    for (const summary of device.summaries.values()) sum += summary.unread;
    if (device.totalUnread !== sum) {
      result.unreadMismatches += 1;
      problem(`${device.key}: totalUnread ${device.totalUnread} but the list sums to ${sum}`);
    }
    if (device.totalUnread !== view.totalUnread) {
      result.unreadMismatches += 1;
      problem(`${device.key}: totalUnread ${device.totalUnread}, server ${view.totalUnread}`);
    }
    for (const [conversationId, membership] of view.conversations) {
      const local = device.summaries.get(conversationId);
      // A conversation with no message yet (a direct chat opened on another device) reaches a device with its first message.
      if (local === undefined && membership.lastSeq === 0) continue;
      if (local === undefined || local.unread !== membership.unread) {
        result.unreadMismatches += 1;
        problem(`${device.key}: ${conversationId} unread ${local?.unread ?? 'missing'}, server ${membership.unread} (read ${local?.readSeq ?? '-'} / ${membership.readSeq})`);
      }
    }
  }
  for (const [userId, view] of server) {
    const own = devicesOf.get(userId) ?? [];
    if (own.length === 0) continue;
    for (const [conversationId, membership] of view.conversations) {
      const shown = new Map<number, Message>();
      for (const device of own) for (const [seq, message] of emitted.get(device.key)?.get(conversationId) ?? []) shown.set(seq, message);
      let counted = 0;
      for (const message of shown.values()) {
        if (message.type === 'user' && message.senderId !== userId && message.seq > membership.readSeq && message.seq <= readableThrough(membership)) counted += 1;
      }
      if (counted !== membership.unread) {
        result.unreadMismatches += 1;
        problem(`${userId}: ${conversationId} unread ${membership.unread} on the server, ${counted} by the messages`);
      }
    }
  }
  return result;
}

/** True when a run meets the target: 100% acked and delivered, nothing duplicated, missing, reordered or miscounted. */
export function meetsTarget(result: CheckResult): boolean {
  return (
    result.sent > 0 &&
    result.acked === result.sent &&
    result.delivered === result.expectedDeliveries &&
    result.duplicates === 0 &&
    result.gaps === 0 &&
    result.orderViolations === 0 &&
    result.unreadMismatches === 0 &&
    result.misdelivered === 0 &&
    result.membershipMismatches === 0
  );
}
