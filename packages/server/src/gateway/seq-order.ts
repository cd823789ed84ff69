/**
 * Puts each conversation's messages back in seq order before they are
 * pushed. One node publishes its commits in order, but two nodes committing
 * seq 5 and seq 6 of one conversation publish them on separate connections,
 * and a third node may hear 6 first. Pushing 6 then 5 would make every
 * receiving device see a gap, pull, and then get 5 twice. So a message that
 * arrives ahead of its predecessor waits, briefly, for it: seqs are dense
 * and every committed seq is published, so the wait ends as soon as the
 * missing one arrives. If it never does (its publisher lost its bus
 * connection), the held messages go out after `maxWaitMs` anyway and devices
 * pull the gap, as they would after any lost push.
 *
 * A conversation met for the first time has nothing to wait for: its first
 * message sets where it starts. So does one forgotten (`forget`): a node
 * forgets a user's stream when the user has no connection there, since the
 * messages in between go to other nodes and would never come here.
 */
export interface SeqOrderOptions {
  /** How long a message waits for the seqs before it. */
  maxWaitMs: number;
  /** Conversations remembered; the least recently seen are forgotten first. */
  maxConversations: number;
}

interface Position {
  /** The seq expected next. */
  next: number;
  /** Messages ahead of `next`, by seq. */
  held?: Map<number, () => void>;
  timer?: ReturnType<typeof setTimeout>;
}

export class SeqOrder {
  private readonly positions = new Map<string, Position>();
  /** Messages released because their predecessors never came. */
  gapsGivenUp = 0;

  constructor(private readonly options: SeqOrderOptions) {}

  /** Calls `release` now, or once every earlier seq of the conversation was released (or waited for long enough). */
  admit(conversationId: string, seq: number, release: () => void): void {
    let position = this.positions.get(conversationId);
    if (position === undefined) {
      position = { next: seq };
      this.remember(conversationId, position);
    } else {
      // Most recently seen last: the map's order is the eviction order.
      this.positions.delete(conversationId);
      this.positions.set(conversationId, position);
    }
    if (seq < position.next) {
      // Already past it (a duplicate, or one given up on): devices drop what they hold.
      release();
      return;
    }
    if (seq > position.next) {
      position.held ??= new Map();
      position.held.set(seq, release);
      position.timer ??= setTimeout(() => this.giveUp(position), this.options.maxWaitMs);
      return;
    }
    release();
    position.next = seq + 1;
    this.drain(position);
  }

  /** Drops what is known of a conversation, held messages included: its next message starts afresh. */
  forget(conversationId: string): void {
    const position = this.positions.get(conversationId);
    if (position === undefined) return;
    clearTimeout(position.timer);
    this.positions.delete(conversationId);
  }

  close(): void {
    for (const position of this.positions.values()) clearTimeout(position.timer);
    this.positions.clear();
  }

  private drain(position: Position): void {
    const held = position.held;
    if (held === undefined) return;
    for (let release = held.get(position.next); release !== undefined; release = held.get(position.next)) {
      held.delete(position.next);
      release();
      position.next += 1;
    }
    if (held.size === 0) {
      position.held = undefined;
      clearTimeout(position.timer);
      position.timer = undefined;
    }
  }

  /** The missing seqs did not come in time: what waited goes out in order, gaps and all. */
  private giveUp(position: Position): void {
    position.timer = undefined;
    const held = position.held;
    if (held === undefined) return;
    position.held = undefined;
    for (const seq of [...held.keys()].sort((a, b) => a - b)) {
      this.gapsGivenUp += 1;
      (held.get(seq) as () => void)();
      position.next = seq + 1;
    }
  }

  private remember(conversationId: string, position: Position): void {
    if (this.positions.size >= this.options.maxConversations) {
      for (const [key, old] of this.positions) {
        // The oldest with nothing waiting; one with messages waiting stays until they go.
        if (old.held === undefined) {
          this.positions.delete(key);
          break;
        }
      }
    }
    this.positions.set(conversationId, position);
  }
}
