/**
 * The bare-`ws` baseline the versus benchmarks compare Parley with: a
 * WebSocket server that stores nothing, authenticates nobody and does not
 * decode what it carries. Started in a child process of its own through
 * ServerChild, reporting usage like bench/server-process.ts, so both servers
 * are measured the same way.
 *
 * Each connection names its group in the URL (`/ws?group=G`). A binary
 * message from a connection is written back to it (the "ack") and to every
 * other connection of its group (the "delivery"):
 *
 *   BASELINE_MODE=relay     one ws.send per recipient per message, as a naive
 *                           relay would (direct pairs, fan-out one at a time)
 *   BASELINE_MODE=batched   the messages of one event-loop turn joined into one
 *                           frame, built once and written to every member: the
 *                           best a relay can do (concatenated Parley packets
 *                           are one valid packet, so the peer reads it alike)
 */
import { createServer } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { ChildReporter } from '../support/child-reporter.js';

const mode = process.env.BASELINE_MODE === 'batched' ? 'batched' : 'relay';
const reporter = new ChildReporter();

interface Group {
  members: Set<WebSocket>;
  pending: Buffer[];
}

const groups = new Map<string, Group>();
const dirty = new Set<Group>();
let flushScheduled = false;

function flushBatches(): void {
  flushScheduled = false;
  for (const group of dirty) {
    const frame = group.pending.length === 1 ? (group.pending[0] as Buffer) : Buffer.concat(group.pending);
    group.pending = [];
    for (const member of group.members) member.send(frame, { binary: true });
  }
  dirty.clear();
}

function onMessage(group: Group, from: WebSocket, data: Buffer): void {
  if (mode === 'relay') {
    from.send(data, { binary: true });
    for (const member of group.members) if (member !== from) member.send(data, { binary: true });
    return;
  }
  group.pending.push(data);
  dirty.add(group);
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flushBatches);
  }
}

const http = createServer((_request, response) => response.writeHead(404).end());
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: false, maxPayload: 256 * 1024 });
http.on('upgrade', (request, socket, head) => {
  const groupId = new URL(request.url ?? '/', 'http://x').searchParams.get('group') ?? '';
  wss.handleUpgrade(request, socket, head, (ws) => {
    let group = groups.get(groupId);
    if (group === undefined) {
      group = { members: new Set(), pending: [] };
      groups.set(groupId, group);
    }
    const joined = group;
    joined.members.add(ws);
    ws.on('message', (data: Buffer) => onMessage(joined, ws, data));
    ws.on('close', () => joined.members.delete(ws));
    ws.on('error', () => joined.members.delete(ws));
  });
});

http.listen(0, '127.0.0.1', () => {
  const address = http.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  reporter.ready({ httpUrl: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}/ws`, tcpUrl: '', adminKey: '' }, () => undefined);
});
