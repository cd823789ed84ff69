/**
 * The SDK's Clock is the one the server uses too; it lives in @parley/protocol
 * (see docs/decisions.md, "One Clock for server and SDK"). Re-exported here so
 * that the SDK's own modules and its public names stay where they were.
 */
export { ManualClock, systemClock, type Clock, type TimerHandle } from '@parley/protocol';
