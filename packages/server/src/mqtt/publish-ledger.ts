/**
 * Recognises a device's repeat of a QoS 1 or 2 publish, so that the repeat
 * carries the clientMsgId of the first attempt and Parley's dedupe (sender +
 * clientMsgId) stores the message once.
 *
 * An MQTT client sends an unacknowledged PUBLISH again after it reconnects,
 * with the same packet identifier (stock clients do not all set the DUP
 * flag, so it is not relied on), and reuses a packet identifier for a new
 * message only once the server acknowledged the old one. So an attempt is
 * remembered from its arrival until the server acknowledges it, and a
 * publish with the same packet identifier, topic and payload in between is
 * its repeat. Once acknowledged it is forgotten: a repeat of a message whose
 * PUBACK was sent but lost with the connection is stored again (at least
 * once, as MQTT's QoS 1 is), but a new message is never taken for an old one
 * and lost. In memory, per node: a repeat that reaches another node, or this
 * one after a restart, is stored again. Devices that need exactly once name
 * the clientMsgId in the topic (mapping.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import { setMostRecent } from '../util/recent-map.js';

interface Attempt {
  clientMsgId: string;
  fingerprint: string;
}

export interface PublishLedgerLimits {
  /** Unacknowledged attempts remembered per device; the oldest is forgotten first. */
  maxPerDevice: number;
  /** Devices with unacknowledged attempts remembered; the least recently used is forgotten first. */
  maxDevices: number;
}

/** What identifies a message's content within its packet identifier: topic and payload. */
export function publishFingerprint(topic: string, payload: Uint8Array): string {
  return createHash('sha256').update(topic).update('\u0000').update(payload).digest('base64url');
}

export class PublishLedger {
  /** By device (user and client id), then by packet identifier. */
  private readonly devices = new Map<string, Map<number, Attempt>>();

  constructor(
    private readonly limits: PublishLedgerLimits,
    private readonly newClientMsgId: () => string = () => `mqtt-${randomBytes(12).toString('base64url')}`,
  ) {}

  /** The clientMsgId for a publish: its first attempt's when it repeats an unacknowledged one, else a new one. */
  attempt(device: string, packetId: number, fingerprint: string): string {
    let attempts = this.devices.get(device);
    const earlier = attempts?.get(packetId);
    if (earlier !== undefined && earlier.fingerprint === fingerprint) return earlier.clientMsgId;
    if (attempts === undefined) attempts = new Map();
    setMostRecent(this.devices, device, attempts, this.limits.maxDevices);
    const clientMsgId = this.newClientMsgId();
    setMostRecent(attempts, packetId, { clientMsgId, fingerprint }, this.limits.maxPerDevice);
    return clientMsgId;
  }

  /** The server acknowledges the publish: the device may now reuse its packet identifier. */
  acknowledged(device: string, packetId: number, clientMsgId: string): void {
    const attempts = this.devices.get(device);
    if (attempts?.get(packetId)?.clientMsgId !== clientMsgId) return;
    attempts.delete(packetId);
    if (attempts.size === 0) this.devices.delete(device);
  }
}

/** The ledger's key of a device: its user and MQTT client id. */
export function deviceKey(userId: string, clientId: string): string {
  return `${userId}\u0000${clientId}`;
}
