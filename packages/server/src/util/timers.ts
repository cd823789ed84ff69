/** Node-specific help for timers handed out by a Clock. */
import type { TimerHandle } from '@parley/protocol';

/**
 * Lets the process exit while `handle` is pending, when the handle is a Node
 * timer (the system clock's); other clocks' handles are left as they are.
 */
export function unrefTimer(handle: TimerHandle): void {
  (handle as { unref?: () => void } | undefined)?.unref?.();
}
