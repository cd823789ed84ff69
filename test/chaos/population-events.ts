/**
 * Changes to the population while traffic flows and faults fire: new
 * conversations (direct chats opened by a device, groups created by the
 * integrator's backend), members removed from groups and added back, devices
 * that connect for the first time, and app restarts (a client closed and a
 * fresh instance, with no saved state, started for the same user). Each
 * kind of change has its own loop driven by the run's seeded random source;
 * its steps run one at a time, except new conversations, which may overlap. It records each member's windows of each changed
 * group for checks.ts, and keeps every device's list of conversations to send
 * to and read in step with what its user may do.
 */
import type { AdminApi } from '../support/fixtures.js';
import type { SeqWindow } from './checks.js';
import { type ConversationSpec, Device, type DeviceOptions, type DeviceSpec, type PopulationPlan, type Traffic, sleep, waitUntil } from './harness.js';

export type PopulationEvent = 'conversations' | 'members' | 'devices' | 'restarts';

export interface LiveRunOptions {
  plan: PopulationPlan;
  /** Every device of the run, retired ones included; new ones are appended. */
  devices: Device[];
  api: AdminApi;
  traffic: Traffic;
  random: () => number;
  deviceOptions(spec: DeviceSpec): DeviceOptions;
  log(line: string): void;
}

/** Mean time between two changes of each kind, ms (plus the time a change takes, except for new conversations). */
const INTERVAL_MS: Record<PopulationEvent, number> = { conversations: 250, members: 300, devices: 1500, restarts: 1500 };
/** How long a step waits for sends to settle (before a removal or an app restart) or for a request to get through. */
const STEP_PATIENCE_MS = 15_000;
/** How long one attempt of a retried request may take. */
const ATTEMPT_MS = 2_000;

export interface PopulationChanges {
  /** Per group whose members changed: per user, every window it was a member in. */
  memberships: Map<string, Map<string, SeqWindow[]>>;
  counts(): Record<string, number>;
  /** Stops making changes; waits for the step in progress. */
  stop(): Promise<void>;
}

/** Starts changing the population with the given kinds of change, each at random times. */
export function startPopulationChanges(run: LiveRunOptions, kinds: readonly PopulationEvent[]): PopulationChanges {
  const memberships = new Map<string, Map<string, SeqWindow[]>>();
  const counts = { newConversations: 0, membersRemoved: 0, membersAdded: 0, newDevices: 0, restarts: 0 };
  let running = true;
  const inFlight = new Set<Promise<void>>();
  let created = 0;
  let joined = 0;
  const pick = <T>(items: readonly T[]): T => items[Math.floor(run.random() * items.length)] as T;
  const liveDevicesOf = (userId: string) => run.devices.filter((device) => device.userId === userId && !device.retired);

  /** Groups whose members change: the plan's small teams (the owner, their first member, stays). */
  const churned = run.plan.conversations.filter((conversation) => conversation.kind === 'group' && conversation.id.startsWith('team-'));
  if (kinds.includes('members')) {
    for (const group of churned) memberships.set(group.id, new Map(group.members.map((userId) => [userId, [{ from: 1 }]])));
  }

  /**
   * An idempotent request through a faulty path: each attempt gets a few
   * seconds (a request may wait for a connection that is down), then it is
   * made again, until it gets through, the step runs out of patience, or the
   * changes stop (then the step is dropped: nothing was announced yet).
   */
  async function persist<T>(what: string, attempt: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + STEP_PATIENCE_MS;
    for (;;) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${ATTEMPT_MS} ms`)), ATTEMPT_MS);
        });
        return await Promise.race([attempt(), timeout]);
      } catch (error) {
        if (!running || Date.now() > deadline) throw new Error(`${what}: ${(error as Error).message}`);
        await sleep(100 + run.random() * 200);
      } finally {
        clearTimeout(timer);
      }
    }
  }

  async function serverMembership(userId: string, conversationId: string): Promise<{ firstSeq: number; leftSeq: number }> {
    const { status, body } = await run.api.call('GET', `/v1/users/${userId}/conversations`);
    if (status !== 200) throw new Error(`conversations of ${userId}: ${status}`);
    const view = (body.conversations as Array<{ id: string; firstSeq: number; leftSeq: number }>).find((candidate) => candidate.id === conversationId);
    if (view === undefined) throw new Error(`${userId} has no membership in ${conversationId}`);
    return view;
  }

  function announce(conversation: ConversationSpec): void {
    run.plan.conversations.push(conversation);
    for (const userId of conversation.members) for (const device of liveDevicesOf(userId)) device.conversationIds.push(conversation.id);
  }

  /**
   * The way a chat starts: whoever started it writes several messages at
   * once, and others answer at once too — while their own and the other
   * devices are still meeting the conversation.
   */
  function burst(writers: readonly Device[]): (conversationId: string) => void {
    return (conversationId) => {
      for (const writer of writers) {
        if (writer.retired) continue;
        const count = 4 + Math.floor(run.random() * 5);
        for (let n = 0; n < count; n++) writer.send(conversationId);
      }
    };
  }

  /** A new conversation: a direct chat opened by one of the user's devices, or a group created by the backend. */
  async function newConversation(): Promise<void> {
    const n = created++;
    if (n % 2 === 0) {
      const opener = pick(run.devices.filter((device) => !device.retired));
      const peer = pick(run.plan.users.filter((userId) => userId !== opener.userId));
      const subject = `live-${n}`;
      // Any running device of the user will do: the opener may be restarted meanwhile.
      const id = await persist(`open a direct chat from ${opener.key}`, () => (liveDevicesOf(opener.userId)[0] ?? opener).client.direct(peer, { subject }));
      announce({ kind: 'direct', id, members: [opener.userId, peer], subject });
      const answering = liveDevicesOf(peer);
      burst(answering.length === 0 ? [opener] : [opener, pick(answering)])(id);
    } else {
      const others = run.plan.users.filter(() => run.random() < 0.4);
      const ownerId = pick(run.plan.users);
      const memberIds = [...new Set(others.filter((userId) => userId !== ownerId))];
      if (memberIds.length === 0) memberIds.push(pick(run.plan.users.filter((userId) => userId !== ownerId)));
      const id = `live-g${n}`;
      await run.api.createGroup({ id, name: id, ownerId, memberIds });
      announce({ kind: 'group', id, members: [ownerId, ...memberIds], subject: '' });
      const writers = [liveDevicesOf(ownerId), liveDevicesOf(pick(memberIds)), liveDevicesOf(pick(memberIds))].filter((devices) => devices.length > 0).map((devices) => pick(devices));
      burst(writers)(id);
    }
    counts.newConversations += 1;
  }

  /** Removes a member from a team (after its devices' sends there settled), or adds back one who is out. */
  async function changeMembers(): Promise<void> {
    const group = pick(churned);
    const owner = group.members[0] as string;
    const userId = pick(run.plan.users.filter((candidate) => candidate !== owner));
    const history = memberships.get(group.id) as Map<string, SeqWindow[]>;
    const windows = history.get(userId) ?? [];
    const isMember = group.members.includes(userId);
    if (isMember) {
      // Its devices stop writing there first: a send racing the removal would rightly be refused.
      for (const device of liveDevicesOf(userId)) {
        const at = device.conversationIds.indexOf(group.id);
        if (at >= 0) device.conversationIds.splice(at, 1);
      }
      await waitUntil(
        () => run.devices.every((device) => device.userId !== userId || device.sends.every((send) => send.conversationId !== group.id || send.status !== 'pending')),
        STEP_PATIENCE_MS,
        `${userId}'s sends to ${group.id} to settle`,
      ).catch(() => run.log(`${userId} still has sends pending in ${group.id}; removing anyway`));
      const { status, body } = await run.api.call('DELETE', `/v1/groups/${group.id}/members/${userId}`);
      if (status !== 200) throw new Error(`remove ${userId} from ${group.id}: ${status} ${JSON.stringify(body)}`);
      group.members.splice(group.members.indexOf(userId), 1);
      const { leftSeq } = await serverMembership(userId, group.id);
      const open = windows[windows.length - 1];
      if (open !== undefined) open.through = leftSeq;
      counts.membersRemoved += 1;
    } else {
      const { status, body } = await run.api.call('POST', `/v1/groups/${group.id}/members`, { userIds: [userId] });
      if (status !== 200) throw new Error(`add ${userId} to ${group.id}: ${status} ${JSON.stringify(body)}`);
      group.members.push(userId);
      // The new window starts at the members_added event (the server keeps the
      // earlier windows readable and the time away as an absence).
      history.set(userId, [...windows, { from: body.seq as number }]);
      for (const device of liveDevicesOf(userId)) device.conversationIds.push(group.id);
      counts.membersAdded += 1;
    }
  }

  /** A brand new client for an existing user, connecting while the others post. */
  function connectNewDevice(userId: string, key: string): Device {
    const ordinal = run.devices.length;
    const spec: DeviceSpec = { key, userId, ordinal, transport: ordinal % 2 === 0 ? 'ws' : 'tcp' };
    const conversationIds = run.plan.conversations.filter((conversation) => conversation.members.includes(userId)).map((conversation) => conversation.id);
    const device = new Device(spec, conversationIds, run.deviceOptions(spec), true);
    run.devices.push(device);
    device.client.connect().then(
      () => run.traffic.add(device),
      (error: unknown) => run.log(`${key} could not connect: ${(error as Error).message}`),
    );
    return device;
  }

  async function newDevice(): Promise<void> {
    const userId = pick(run.plan.users);
    connectNewDevice(userId, `${userId}/new${joined++}`);
    counts.newDevices += 1;
  }

  /** An app restart: a device stops, its sends settle, it closes, and a fresh instance starts for the same user. */
  async function restart(): Promise<void> {
    const candidates = run.devices.filter((device) => !device.retired && device.client.state === 'open');
    if (candidates.length === 0) return;
    const device = pick(candidates);
    run.traffic.remove(device);
    await waitUntil(() => device.pendingSends === 0, 2 * STEP_PATIENCE_MS, `${device.key}'s sends to settle`).catch(() =>
      run.log(`${device.key} still has ${device.pendingSends} sends pending; closing anyway`),
    );
    await device.retire();
    connectNewDevice(device.userId, `${device.userId}/restart${joined++}`);
    counts.restarts += 1;
  }

  const steps: Record<PopulationEvent, () => Promise<void>> = { conversations: newConversation, members: changeMembers, devices: newDevice, restarts: restart };
  const wakers = new Set<() => void>();
  /** One loop per kind of change, each at its own pace. */
  const loops = kinds.map(async (kind) => {
    while (running) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          wakers.delete(wake);
          resolve();
        }, INTERVAL_MS[kind] * (0.5 + run.random()));
        const wake = () => {
          clearTimeout(timer);
          resolve();
        };
        wakers.add(wake);
      });
      if (!running) break;
      const step = steps[kind]().catch((error: unknown) => run.log(`population change (${kind}) failed: ${(error as Error).message}`));
      // New conversations are independent of each other: several may be on their way at once. Other changes go one at a time.
      if (kind === 'conversations') {
        inFlight.add(step);
        void step.finally(() => inFlight.delete(step));
      } else {
        await step;
      }
    }
  });

  return {
    memberships,
    counts: () => ({ ...counts }),
    async stop() {
      running = false;
      for (const wake of wakers) wake();
      await Promise.all(loops);
      await Promise.all(inFlight);
    },
  };
}
