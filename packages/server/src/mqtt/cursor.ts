/**
 * Where one device stands in one conversation: the decisions behind
 * delivering a conversation to an MQTT subscription in seq order, once,
 * without loss. No sockets or timers: the listener asks and acts.
 *
 * The device gets every seq after `start` that it may read, in order. A live
 * message that follows the last one handed over goes out at once; one that
 * leaves a gap (a push lost or overtaken on the bus, a device that was
 * offline or could not keep up) means the gap is read from the store first.
 * What the device acknowledged (QoS 1, persistent session) decides where it
 * resumes after a reconnect: everything after the first seq it did not
 * acknowledge is handed over again.
 */
export type LiveVerdict = 'deliver' | 'drop' | 'catch-up';

export class DeliveryCursor {
  /** The highest seq handed over to the device or passed over (not for it). */
  private sent: number;
  /** The highest seq known to exist. */
  private known: number;
  /** Set after a reconnect: the end is unknown until the store was asked. */
  private endUnknown = false;
  /** Seqs handed over at QoS 1 and not acknowledged yet, ascending. */
  private unacked: number[] = [];

  /** Everything up to `start` counts as delivered. */
  constructor(start: number) {
    this.sent = start;
    this.known = start;
  }

  /** A live message of the conversation arrived. */
  offer(seq: number): LiveVerdict {
    if (seq <= this.sent) return 'drop';
    this.known = Math.max(this.known, seq);
    return seq === this.sent + 1 && !this.endUnknown ? 'deliver' : 'catch-up';
  }

  /** A message arrived before the start was known: it only says how far the conversation goes. */
  heardOf(seq: number): void {
    this.known = Math.max(this.known, seq);
  }

  /** True while seqs exist (or may exist) that were neither handed over nor passed over. */
  get behind(): boolean {
    return this.endUnknown || this.known > this.sent;
  }

  /** The first seq not yet handed over: where a catch-up read starts. */
  get next(): number {
    return this.sent + 1;
  }

  /** Whether `seq` is still to be handed over (false for one already handed over or passed over). */
  wants(seq: number): boolean {
    return seq > this.sent;
  }

  /** `seq` went to the device; `awaitingAck`: it is to acknowledge it (QoS 1 on a persistent session). */
  handedOver(seq: number, awaitingAck: boolean): void {
    this.sent = seq;
    if (awaitingAck) this.unacked.push(seq);
  }

  /** Seqs up to `seq` are not for this device (hidden, system events, outside its window). */
  passedOver(seq: number): void {
    this.sent = Math.max(this.sent, seq);
  }

  /** The highest seq heard of so far: taken before a store read, handed back to readUpTo. */
  get horizon(): number {
    return this.known;
  }

  /**
   * A store read answered that the member may read up to `lastSeq`. A live
   * message heard of before the read (`horizonBefore`) but beyond it lies
   * outside the member's window (it left): nothing is behind any more. One
   * heard of during the read may have committed after it: it is read next.
   */
  readUpTo(lastSeq: number, horizonBefore: number): void {
    this.endUnknown = false;
    this.known = this.known === horizonBefore ? Math.max(this.sent, lastSeq) : Math.max(this.known, lastSeq);
  }

  acknowledged(seq: number): void {
    const index = this.unacked.indexOf(seq);
    if (index >= 0) this.unacked.splice(index, 1);
  }

  /** Where the device resumes: after the last seq before the first one it did not acknowledge. */
  get resumeAfter(): number {
    return this.unacked[0] === undefined ? this.sent : this.unacked[0] - 1;
  }

  /**
   * The device reconnected: what it did not acknowledge goes out again, and
   * whatever was committed while it was away is read from the store.
   */
  rewind(): void {
    this.sent = this.resumeAfter;
    this.unacked = [];
    this.endUnknown = true;
  }
}
