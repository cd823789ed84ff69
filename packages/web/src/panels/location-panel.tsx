/**
 * Live location over keyed signals (docs/protocol.md, "Signals"), drawn on a
 * map-free canvas: each member who shares sends `geo.position` under the key
 * `location` every few seconds, the server keeps each member's latest one,
 * and whoever opens the panel asks for them (`signalValues`) and then
 * follows the live ones. Positions are placed relative to each other, fitted
 * to the canvas. Sharing uses the browser's geolocation when allowed; where
 * it is not, "simulate" walks a made-up position instead.
 */
import { type Signal, decodeSignalJson, encodeSignalJson } from '@parley/client';
import { useEffect, useRef, useState } from 'preact/hooks';
import { useChat, useChatStore } from '../chat/use-chat.js';
import { avatarHue, nameOf } from '../format.js';
import type { PanelDefinition, PanelProps } from './registry.js';

const POSITION_TYPE = 'geo.position';
const KEY = 'location';
const SHARE_EVERY_MS = 2000;
const SIZE = 280;
const MARGIN = 24;

interface Position {
  latitude: number;
  longitude: number;
}

function readPosition(signal: Signal): Position | undefined {
  if (signal.type !== POSITION_TYPE || signal.key !== KEY) return undefined;
  const value = decodeSignalJson<Partial<Position>>(signal);
  if (typeof value?.latitude !== 'number' || typeof value.longitude !== 'number') return undefined;
  if (Math.abs(value.latitude) > 90 || Math.abs(value.longitude) > 180) return undefined;
  return { latitude: value.latitude, longitude: value.longitude };
}

function LocationIcon() {
  return (
    <svg viewBox="0 0 20 20" aria-hidden="true">
      <path d="M10 17s-5-4.6-5-8.5a5 5 0 0 1 10 0C15 12.4 10 17 10 17z" fill="none" stroke="currentColor" stroke-width="1.7" stroke-linejoin="round" />
      <circle cx="10" cy="8.5" r="1.8" fill="currentColor" />
    </svg>
  );
}

function LocationPanel({ conversation }: PanelProps) {
  const store = useChatStore();
  const { client } = store;
  const names = useChat((state) => state.names);
  const selfId = useChat((state) => state.self.userId);
  const conversationId = conversation.id;
  const [positions, setPositions] = useState<ReadonlyMap<string, Position>>(new Map());
  const [sharing, setSharing] = useState<'off' | 'device' | 'simulated'>('off');
  const [note, setNote] = useState<string | undefined>();
  const canvas = useRef<HTMLCanvasElement>(null);

  const place = (userId: string, position: Position | undefined) =>
    setPositions((current) => {
      const next = new Map(current);
      if (position === undefined) next.delete(userId);
      else next.set(userId, position);
      return next;
    });

  // The latest of each member, then the live ones.
  useEffect(() => {
    void client
      .signalValues(conversationId)
      .then((values) => {
        for (const value of values) place(value.senderId, readPosition(value));
      })
      .catch(() => undefined);
    return client.on('signal', (signal) => {
      if (signal.conversationId === conversationId && signal.type === POSITION_TYPE && signal.key === KEY) place(signal.senderId, readPosition(signal));
    });
  }, [client, conversationId]);

  // Sharing: a position every few seconds while on; an empty value when stopped, so the others' dots go.
  useEffect(() => {
    if (sharing === 'off') return;
    const send = (position: Position) => {
      place(selfId, position);
      client.signal(conversationId, POSITION_TYPE, encodeSignalJson(position), { key: KEY });
    };
    let walk: Position = { latitude: 52.52 + Math.random() * 0.01, longitude: 13.405 + Math.random() * 0.01 };
    const tick = () => {
      if (sharing === 'simulated') {
        walk = { latitude: walk.latitude + (Math.random() - 0.5) * 0.002, longitude: walk.longitude + (Math.random() - 0.5) * 0.002 };
        send(walk);
      } else {
        navigator.geolocation.getCurrentPosition(
          (found) => send({ latitude: found.coords.latitude, longitude: found.coords.longitude }),
          () => setNote('Your browser did not give a position; try "Simulate".'),
        );
      }
    };
    tick();
    const timer = setInterval(tick, SHARE_EVERY_MS);
    return () => {
      clearInterval(timer);
      client.signal(conversationId, POSITION_TYPE, new Uint8Array(0), { key: KEY });
      place(selfId, undefined);
    };
  }, [sharing, client, conversationId, selfId]);

  // Drawing: every position fitted into the canvas, relative to the others.
  useEffect(() => {
    const context = canvas.current?.getContext('2d');
    if (context === undefined || context === null) return;
    context.clearRect(0, 0, SIZE, SIZE);
    const all = [...positions];
    if (all.length === 0) return;
    const latitudes = all.map(([, position]) => position.latitude);
    const longitudes = all.map(([, position]) => position.longitude);
    const span = Math.max(Math.max(...latitudes) - Math.min(...latitudes), Math.max(...longitudes) - Math.min(...longitudes), 0.001);
    const scale = (SIZE - 2 * MARGIN) / span;
    for (const [userId, position] of all) {
      const x = MARGIN + (position.longitude - Math.min(...longitudes)) * scale;
      const y = SIZE - MARGIN - (position.latitude - Math.min(...latitudes)) * scale;
      context.fillStyle = `hsl(${avatarHue(userId)} 70% 45%)`;
      context.beginPath();
      context.arc(x, y, 7, 0, 2 * Math.PI);
      context.fill();
      context.fillStyle = '#333';
      context.font = '12px system-ui, sans-serif';
      context.fillText(userId === selfId ? 'You' : nameOf(names, userId), x + 10, y + 4);
    }
  }, [positions, names, selfId]);

  const sharers = [...positions.keys()].map((userId) => (userId === selfId ? 'You' : nameOf(names, userId)));
  return (
    <div class="location-panel">
      <canvas
        ref={canvas}
        width={SIZE}
        height={SIZE}
        class="whiteboard"
        role="img"
        aria-label={sharers.length === 0 ? 'Nobody shares a location' : `Locations of ${sharers.join(', ')}`}
        data-testid="location-canvas"
        data-sharers={[...positions.keys()].sort().join(',')}
      />
      <div class="location-actions">
        {sharing === 'off' ? (
          <>
            <button
              type="button"
              class="button"
              disabled={typeof navigator === 'undefined' || navigator.geolocation === undefined}
              onClick={() => {
                setNote(undefined);
                setSharing('device');
              }}
            >
              Share my location
            </button>
            <button type="button" class="button" onClick={() => setSharing('simulated')}>
              Simulate
            </button>
          </>
        ) : (
          <button type="button" class="button" onClick={() => setSharing('off')}>
            Stop sharing
          </button>
        )}
      </div>
      {note !== undefined && (
        <p class="form-error" role="status">
          {note}
        </p>
      )}
      <p class="muted whiteboard-note">Shared live with the members here; the server keeps only each one's latest position, for 10 minutes.</p>
    </div>
  );
}

export const locationPanel: PanelDefinition = {
  id: 'location',
  title: 'Live location',
  Icon: LocationIcon,
  available: (conversation) => conversation.active,
  Panel: LocationPanel,
};
