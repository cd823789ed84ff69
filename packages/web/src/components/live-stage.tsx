/**
 * The live stage: where the video would play, a placeholder here (a gradient
 * with the live's title, its host and a LIVE badge), with the viewer count,
 * chat lines flying across it (danmaku), hearts rising from the like button,
 * and, once the live ended, a notice over it all. Lines and hearts leave when
 * their animation ends; effects.ts bounds how many are on screen.
 */
import { useEffect, useRef } from 'preact/hooks';
import { avatarHue } from '../format.js';
import { DANMAKU_LANES } from '../live/effects.js';
import { useLive, useLiveStore, useRoomName } from '../live/use-live.js';
import { Avatar } from './avatar.js';

interface LiveStageProps {
  onBack(): void;
}

export function LiveStage({ onBack }: LiveStageProps) {
  const store = useLiveStore();
  const status = useLive((state) => state.status);
  const info = useLive((state) => state.info);
  const online = useLive((state) => state.online);
  const nameOf = useRoomName();
  const hostName = info === undefined ? undefined : nameOf(info.hostId);

  return (
    <div class="stage" data-testid="live-stage" style={{ '--stage-hue': String(avatarHue(store.roomId)) }}>
      <div class="stage-top">
        <span class={`live-badge${status === 'ended' ? ' ended' : ''}`} data-testid="live-badge">
          {status === 'ended' ? 'ENDED' : 'LIVE'}
        </span>
        {status === 'live' && (
          <span class="stage-online" data-testid="live-online" data-count={online} title={`${online} watching`}>
            <svg viewBox="0 0 20 20" aria-hidden="true">
              <path d="M1.5 10S4.5 4.5 10 4.5 18.5 10 18.5 10 15.5 15.5 10 15.5 1.5 10 1.5 10z" fill="none" stroke="currentColor" stroke-width="1.7" stroke-linejoin="round" />
              <circle cx="10" cy="10" r="2.6" fill="currentColor" />
            </svg>
            {online.toLocaleString()}
            <span class="visually-hidden"> watching</span>
          </span>
        )}
      </div>
      <div class="stage-center">
        <h3 class="stage-title" data-testid="stage-title">
          {info?.name ?? ''}
        </h3>
        {info !== undefined && hostName !== undefined && (
          <p class="stage-host">
            <Avatar id={info.hostId} name={hostName} size="small" />
            <span>{hostName}</span>
          </p>
        )}
      </div>
      <Danmaku />
      <Hearts />
      <button type="button" class="like-button" data-testid="like-button" aria-label="Like" title="Like" disabled={status !== 'live'} onClick={() => store.like()}>
        <HeartIcon />
      </button>
      {status === 'joining' && (
        <div class="stage-note" role="status">
          <span class="spinner" aria-hidden="true" />
          Joining the live…
        </div>
      )}
      {status === 'ended' && (
        <div class="stage-ended" role="status" data-testid="live-ended">
          <h3>The live ended</h3>
          <p>Thanks for watching.</p>
          <button type="button" class="button" onClick={onBack}>
            Back to chats
          </button>
        </div>
      )}
    </div>
  );
}

/**
 * Chat lines flying right to left in lanes, each for as long as crossing the
 * stage takes at one speed for all. Decorative for screen readers, which
 * would otherwise read out a flood.
 */
function Danmaku() {
  const store = useLiveStore();
  const lines = useLive((state) => state.danmaku.lines);
  const field = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = field.current;
    if (element === null) return;
    const observer = new ResizeObserver(() => store.setStageWidth(element.clientWidth));
    observer.observe(element);
    return () => observer.disconnect();
  }, [store]);
  return (
    <div ref={field} class="danmaku" aria-hidden="true" data-testid="danmaku" style={{ '--lanes': String(DANMAKU_LANES) }}>
      {lines.map((line) => (
        <span
          key={line.id}
          class={`danmaku-line${line.own ? ' own' : ''}`}
          data-testid="danmaku-line"
          style={{ '--lane': String(line.lane), animationDuration: `${line.durationMs}ms` }}
          onAnimationEnd={() => store.landLine(line.id)}
        >
          {line.senderName !== '' && <span class="danmaku-sender">{line.senderName}</span>}
          {line.text}
        </span>
      ))}
    </div>
  );
}

/** Hearts rising from the like button: this user's taps and others' likes. */
function Hearts() {
  const store = useLiveStore();
  const hearts = useLive((state) => state.hearts.hearts);
  return (
    <div class="hearts" aria-hidden="true">
      {hearts.map((heart) => (
        <span
          key={heart.id}
          class="heart"
          data-testid="heart"
          data-own={heart.own ? 'true' : 'false'}
          style={{ '--drift': String(heart.drift), '--tint': String(heart.tint), animationDelay: `${heart.delayMs}ms` }}
          onAnimationEnd={() => store.popHeart(heart.id)}
        >
          <HeartIcon />
        </span>
      ))}
    </div>
  );
}

function HeartIcon() {
  return (
    <svg viewBox="0 0 20 20" aria-hidden="true">
      <path d="M10 17.2l-1.2-1.1C4.6 12.3 2 9.9 2 6.9 2 4.5 3.9 2.6 6.3 2.6c1.4 0 2.7.6 3.7 1.7 1-1.1 2.3-1.7 3.7-1.7 2.4 0 4.3 1.9 4.3 4.3 0 3-2.6 5.4-6.8 9.2L10 17.2z" fill="currentColor" />
    </svg>
  );
}
