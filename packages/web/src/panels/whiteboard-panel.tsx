/**
 * A shared whiteboard over signals (docs/protocol.md, "Signals"): what one
 * member draws appears on the others' boards as they draw. Points are
 * gathered per animation frame and sent as one `board.stroke` signal
 * (normalised 0..1 coordinates, JSON). A pointer moves 60 times a second or
 * more, above the server's signal rate: when `client.signal` says the
 * connection's budget is spent, the points wait and go with the next frame's,
 * so a fast hand sends fewer, longer pieces and loses none. Nothing is
 * stored: a board is a live sketch, empty for whoever opens it later.
 */
import { type Signal, decodeSignalJson, encodeSignalJson } from '@parley/client';
import { useEffect, useRef, useState } from 'preact/hooks';
import { useChatStore } from '../chat/use-chat.js';
import { avatarHue } from '../format.js';
import type { PanelDefinition, PanelProps } from './registry.js';

const STROKE_TYPE = 'board.stroke';
const CLEAR_TYPE = 'board.clear';
const SIZE = 280;
/** Points per signal at most (4 KiB of JSON). */
const MAX_POINTS = 120;

interface Stroke {
  /** A stroke continued from the previous piece of the same stroke. */
  id: string;
  points: Array<[number, number]>;
}

/** A stroke being drawn here: its points not sent yet, and the frame that sends them. */
interface Drawing {
  id: string;
  pending: Array<[number, number]>;
  last?: [number, number];
  frame?: number;
}

function WhiteboardIcon() {
  return (
    <svg viewBox="0 0 20 20" aria-hidden="true">
      <path d="M3.5 15.5c2-4 4-7 6-7s1 4 3 4 2.5-3 4-5" fill="none" stroke="currentColor" stroke-width="1.7" stroke-linecap="round" stroke-linejoin="round" />
    </svg>
  );
}

function WhiteboardPanel({ conversation }: PanelProps) {
  const { client, state } = useChatStore();
  const canvas = useRef<HTMLCanvasElement>(null);
  /** Points drawn on this board since it opened, one's own and received (data-points, for tests). */
  const [pointCount, setPointCount] = useState(0);
  const selfId = state.self.userId;
  const conversationId = conversation.id;
  /** The last point drawn per stroke id, to join the next piece to. */
  const lastPoints = useRef(new Map<string, [number, number]>());

  const draw = (points: ReadonlyArray<[number, number]>, colour: string, from?: [number, number]) => {
    const context = canvas.current?.getContext('2d');
    if (context === undefined || context === null || points.length === 0) return;
    context.strokeStyle = colour;
    context.lineWidth = 2.5;
    context.lineCap = 'round';
    context.lineJoin = 'round';
    context.beginPath();
    const start = from ?? points[0];
    if (start === undefined) return;
    context.moveTo(start[0] * SIZE, start[1] * SIZE);
    for (const [x, y] of points) context.lineTo(x * SIZE, y * SIZE);
    context.stroke();
  };

  const clear = () => canvas.current?.getContext('2d')?.clearRect(0, 0, SIZE, SIZE);

  useEffect(
    () =>
      client.on('signal', (signal: Signal) => {
        if (signal.conversationId !== conversationId) return;
        if (signal.type === CLEAR_TYPE) {
          clear();
          return;
        }
        if (signal.type !== STROKE_TYPE) return;
        const stroke = decodeSignalJson<Partial<Stroke>>(signal);
        if (typeof stroke?.id !== 'string' || !Array.isArray(stroke.points)) return;
        const points = stroke.points.filter((point) => Array.isArray(point) && point.length === 2 && point.every((value) => typeof value === 'number'));
        const key = `${signal.senderId}:${stroke.id}`;
        draw(points, `hsl(${avatarHue(signal.senderId)} 70% 45%)`, lastPoints.current.get(key));
        const last = points[points.length - 1];
        if (last !== undefined) lastPoints.current.set(key, last);
        setPointCount((count) => count + points.length);
      }),
    [client, conversationId],
  );

  // Drawing: points gathered between animation frames go out as one signal,
  // or wait for a later frame while the budget is spent. Offline they are
  // dropped: signals are never kept for later.
  const drawing = useRef<Drawing | undefined>(undefined);
  const flush = (stroke: Drawing) => {
    stroke.frame = undefined;
    const points = stroke.pending.slice(0, MAX_POINTS);
    if (points.length === 0) return;
    if (client.signal(conversationId, STROKE_TYPE, encodeSignalJson({ id: stroke.id, points } satisfies Stroke))) stroke.pending.splice(0, points.length);
    else if (client.state !== 'open') stroke.pending.length = 0;
    if (stroke.pending.length > 0) stroke.frame = requestAnimationFrame(() => flush(stroke));
  };
  const pointOf = (event: PointerEvent): [number, number] => {
    const box = (event.currentTarget as HTMLCanvasElement).getBoundingClientRect();
    const x = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
    const y = Math.min(1, Math.max(0, (event.clientY - box.top) / box.height));
    return [Math.round(x * 1000) / 1000, Math.round(y * 1000) / 1000];
  };
  const add = (point: [number, number]) => {
    const current = drawing.current;
    if (current === undefined) return;
    draw([point], `hsl(${avatarHue(selfId)} 70% 45%)`, current.last);
    current.last = point;
    current.pending.push(point);
    setPointCount((count) => count + 1);
    current.frame ??= requestAnimationFrame(() => flush(current));
  };

  return (
    <div class="whiteboard-panel">
      <canvas
        ref={canvas}
        width={SIZE}
        height={SIZE}
        class="whiteboard"
        role="img"
        aria-label="Shared whiteboard: draw with the mouse, a pen or a finger"
        data-testid="whiteboard"
        data-points={pointCount}
        onPointerDown={(event) => {
          event.currentTarget.setPointerCapture(event.pointerId);
          drawing.current = { id: Math.random().toString(36).slice(2, 10), pending: [] };
          add(pointOf(event));
        }}
        onPointerMove={(event) => {
          if (drawing.current !== undefined) add(pointOf(event));
        }}
        onPointerUp={() => {
          const stroke = drawing.current;
          drawing.current = undefined;
          if (stroke === undefined) return;
          if (stroke.frame !== undefined) cancelAnimationFrame(stroke.frame);
          flush(stroke);
        }}
      />
      <p class="muted whiteboard-note">Live only: nothing is kept, so the board starts empty for whoever opens it later.</p>
      <button
        type="button"
        class="button"
        onClick={() => {
          clear();
          client.signal(conversationId, CLEAR_TYPE, new Uint8Array(0));
        }}
      >
        Clear for everyone
      </button>
    </div>
  );
}

export const whiteboardPanel: PanelDefinition = {
  id: 'whiteboard',
  title: 'Whiteboard',
  Icon: WhiteboardIcon,
  available: (conversation) => conversation.active,
  Panel: WhiteboardPanel,
};
