/**
 * SDK clients as the end-to-end tests use them: one "device" of a user,
 * connected to a real server (or a fault proxy in front of it), recording
 * every message and state change it emits, and closed after the test.
 */
import { type ConversationSummary, type Message, ParleyClient, type ParleyClientOptions, type StateChange } from '@parley/client';
import { FaultProxy } from './fault-proxy.js';
import type { TestServer } from './fixtures.js';

export interface Device {
  client: ParleyClient;
  /** Every 'message' event, in emission order. */
  messages: Message[];
  /** Every 'state' event. */
  states: StateChange[];
}

/** What a device needs of the test: somewhere to register its cleanup. */
export interface Cleanup {
  after(fn: () => unknown): void;
}

/** Connects a device of `userId` at `url` with fast reconnects and a fresh token per connection. */
export async function connectDevice(fixture: TestServer, userId: string, url: string, t: Cleanup, options: Partial<ParleyClientOptions> = {}): Promise<Device> {
  const messages: Message[] = [];
  const states: StateChange[] = [];
  const client = new ParleyClient({
    url,
    token: () => fixture.api.token(userId),
    reconnect: { minDelayMs: 20, maxDelayMs: 200 },
    requestTimeoutMs: 5000,
    ...options,
  });
  client.on('message', (message) => messages.push(message));
  client.on('state', (change) => states.push(change));
  t.after(() => client.close());
  await client.connect();
  return { client, messages, states };
}

/** The seqs a device emitted for one conversation, in emission order. */
export function seqsOf(device: Device, conversationId: string): number[] {
  return device.messages.filter((message) => message.conversationId === conversationId).map((message) => message.seq);
}

/** The server's URL for a transport. */
export function urlOf(fixture: TestServer, transport: 'ws' | 'tcp'): string {
  return transport === 'ws' ? fixture.server.wsUrl : (fixture.server.tcpUrl as string);
}

/** A fault proxy in front of the server's listener for `transport`, closed after the test. */
export async function proxyInFront(fixture: TestServer, t: Cleanup, transport: 'ws' | 'tcp' = 'ws'): Promise<FaultProxy> {
  const proxy = await FaultProxy.start('127.0.0.1', Number(new URL(urlOf(fixture, transport)).port));
  t.after(() => proxy.close());
  return proxy;
}

/** What a brand-new device of the user sees of a conversation right after connecting (its first sync), closed again. */
export async function freshSummary(fixture: TestServer, userId: string, conversationId: string, t: Cleanup): Promise<ConversationSummary | undefined> {
  const { client } = await connectDevice(fixture, userId, fixture.server.wsUrl, t);
  const summary = client.conversation(conversationId);
  await client.close();
  return summary;
}
