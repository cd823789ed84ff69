/**
 * Declaring a user's route (userRoute) for one connection, as the WebSocket
 * and TCP gateway and the MQTT listener both do when a device signs in. Kept
 * beside bus.ts rather than in it: bus.ts is the port every adapter
 * implements, and the bounded wait below is a choice of the nodes that
 * accept connections, not part of what an adapter must do.
 */
import { within } from '../util/within.js';
import { type Bus, userRoute } from './bus.js';

/**
 * The longest a sign-in waits for the bus to route the user's events here.
 * Past it (the broker is out of reach) the device is let in anyway: the node
 * catches its devices up once the bus is back (gateway/bus-recovery.ts).
 */
const USER_ROUTE_WAIT_MS = 2000;

export interface DeclaredUserRoute {
  /**
   * Settles once every event for the user published afterwards, on any node,
   * is sure to reach this one, or after USER_ROUTE_WAIT_MS. Never rejects.
   */
  readonly routed: Promise<void>;
  /**
   * Withdraws this declaration; later calls do nothing. Available before
   * `routed` settles, since a connection may close while it waits.
   */
  withdraw(): void;
}

/**
 * Declares this node's interest in `userId`'s route, once per connection:
 * the bus counts declarations, so the route stays while any of the user's
 * connections here holds one. Undefined on a bus that does not route by
 * interest (every event reaches every node). `onUnconfirmed` hears why a
 * declaration was not confirmed, even after the wait gave up on it.
 */
export function declareUserRoute(bus: Pick<Bus, 'interest'>, userId: string, onUnconfirmed?: (error: unknown) => void): DeclaredUserRoute | undefined {
  const interest = bus.interest;
  if (interest === undefined) return undefined;
  const route = userRoute(userId);
  const confirmed = interest.call(bus, route, true).then(
    () => undefined,
    (error: unknown) => onUnconfirmed?.(error),
  );
  let held = true;
  return {
    routed: within(confirmed, USER_ROUTE_WAIT_MS, undefined),
    withdraw: () => {
      if (!held) return;
      held = false;
      void interest.call(bus, route, false);
    },
  };
}
