/**
 * Keeps the node's persistent MQTT sessions (sessions.ts: SessionSnapshot)
 * in a file of the data folder, so that a device that reconnects after a
 * restart finds its session and resumes where it was. Written whole (a
 * temporary file, flushed, then renamed over the old one) every few seconds
 * while something changed, and when the listener closes. After a crash the
 * file is at most that old: resume points are a few seconds behind, so a
 * device gets those messages again (it drops seqs it holds), never fewer.
 */
import { open, readFile, rename } from 'node:fs/promises';
import { conversationTopic, subscribedConversation } from './mapping.js';
import type { SessionSnapshot } from './sessions.js';

/** The snapshot in `path`; an empty one when there is none or it cannot be read (sessions then start afresh). */
export async function readSessionFile(path: string): Promise<{ snapshot: SessionSnapshot; problem?: string }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    return { snapshot: { version: 1, sessions: [] }, problem: missing ? undefined : String(error) };
  }
  try {
    return { snapshot: parseSnapshot(JSON.parse(text)) };
  } catch (error) {
    return { snapshot: { version: 1, sessions: [] }, problem: `unreadable, ignored: ${String(error)}` };
  }
}

export async function writeSessionFile(path: string, text: string): Promise<void> {
  const temporary = `${path}.tmp`;
  const file = await open(temporary, 'w', 0o600);
  try {
    await file.writeFile(text);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temporary, path);
}

function parseSnapshot(value: unknown): SessionSnapshot {
  const root = value as { version?: unknown; sessions?: unknown };
  if (root?.version !== 1 || !Array.isArray(root.sessions)) throw new Error('not a version 1 session file');
  const sessions: SessionSnapshot['sessions'] = [];
  for (const entry of root.sessions as Array<Record<string, unknown>>) {
    if (typeof entry?.clientId !== 'string' || typeof entry.userId !== 'string' || !Array.isArray(entry.subscriptions)) continue;
    const subscriptions = (entry.subscriptions as Array<Record<string, unknown>>).flatMap((subscription) =>
      typeof subscription?.conversationId === 'string' &&
      subscribedConversation(conversationTopic(subscription.conversationId)) === subscription.conversationId &&
      (subscription.qos === 0 || subscription.qos === 1) &&
      Number.isSafeInteger(subscription.resumeAfter)
        ? [{ conversationId: subscription.conversationId, qos: subscription.qos as 0 | 1, resumeAfter: subscription.resumeAfter as number }]
        : [],
    );
    sessions.push({ clientId: entry.clientId, userId: entry.userId, subscriptions });
  }
  return { version: 1, sessions };
}
