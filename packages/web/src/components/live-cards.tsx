/**
 * The live room's cards: its reliable messages (product cards, gifts, red
 * packets, announcements, the end of the live), one card each, in the order
 * they were sent. The list keeps the newest in view while the reader is at
 * its end, and screen readers hear of each new card (aria-live).
 */
import type { Message } from '@parley/client';
import { memo } from 'preact/compat';
import { useLayoutEffect, useRef } from 'preact/hooks';
import { type LiveCard, cardOf } from '../live/cards.js';
import { useLive, useRoomName } from '../live/use-live.js';

/** How close to its end (px) the list counts as read to the end, and follows new cards. */
const FOLLOW_SLACK_PX = 48;

export function LiveCards() {
  const cards = useLive((state) => state.cards);
  const nameOf = useRoomName();
  const scroller = useRef<HTMLDivElement>(null);
  const following = useRef(true);

  useLayoutEffect(() => {
    const element = scroller.current;
    if (element !== null && following.current) element.scrollTop = element.scrollHeight;
  }, [cards]);

  return (
    <section class="live-section live-cards-section" aria-labelledby="live-cards-title">
      <h3 id="live-cards-title" class="live-section-title">
        Highlights
      </h3>
      <div
        ref={scroller}
        class="live-cards-scroller"
        onScroll={(event) => {
          const element = event.currentTarget;
          following.current = element.scrollHeight - element.scrollTop - element.clientHeight < FOLLOW_SLACK_PX;
        }}
      >
        {cards.length === 0 && <p class="muted panel-note">Products, gifts and announcements show here.</p>}
        <ol class="live-cards" data-testid="live-cards" aria-live="polite" aria-relevant="additions">
          {cards.map((message) => (
            <CardItem key={message.seq} message={message} senderName={nameOf(message.senderId)} />
          ))}
        </ol>
      </div>
    </section>
  );
}

interface CardItemProps {
  message: Message;
  senderName: string;
}

const CardItem = memo(function CardItem({ message, senderName }: CardItemProps) {
  const card = cardOf(message, location.origin);
  return (
    <li class={`live-card card-${card.kind}`} data-testid="live-card" data-kind={card.kind} data-seq={message.seq}>
      <CardBody card={card} senderName={senderName} />
    </li>
  );
});

function CardBody({ card, senderName }: { card: LiveCard; senderName: string }) {
  switch (card.kind) {
    case 'product':
      return (
        <>
          {card.imageUrl === undefined ? (
            <span class="card-icon product-image" aria-hidden="true">
              <CardIcon kind="product" />
            </span>
          ) : (
            <img class="product-image" src={card.imageUrl} alt="" width={56} height={56} loading="lazy" />
          )}
          <span class="card-main">
            <span class="card-label">Product</span>
            <span class="card-title" data-testid="product-title">
              {card.title}
            </span>
            <span class="card-amount" data-testid="product-price">
              {card.price}
            </span>
          </span>
        </>
      );
    case 'gift':
      return (
        <>
          <span class="card-icon" aria-hidden="true">
            <CardIcon kind="gift" />
          </span>
          <span class="card-main">
            <span class="card-title">
              {senderName} sent {card.gift}
            </span>
            <span class="card-amount">
              <span class="visually-hidden">Worth </span>
              {card.value}
            </span>
          </span>
        </>
      );
    case 'red_packet':
      return (
        <>
          <span class="card-icon" aria-hidden="true">
            <CardIcon kind="red_packet" />
          </span>
          <span class="card-main">
            <span class="card-label">Red packet from {senderName}</span>
            <span class="card-amount">{card.amount}</span>
            {card.note !== undefined && <span class="card-text">{card.note}</span>}
          </span>
        </>
      );
    case 'announcement':
      return (
        <>
          <span class="card-icon" aria-hidden="true">
            <CardIcon kind="announcement" />
          </span>
          <span class="card-main">
            <span class="card-label">{senderName}</span>
            <span class="card-text">{card.text}</span>
          </span>
        </>
      );
    case 'ended':
      return <span class="card-main card-ended">The live ended</span>;
    case 'custom':
      return (
        <span class="card-main">
          <span class="card-label custom-type">{card.customType}</span>
          {card.fields.length > 0 && (
            <dl class="custom-fields">
              {card.fields.map(([key, value]) => (
                <div key={key} class="custom-field">
                  <dt>{key}</dt>
                  <dd>{value}</dd>
                </div>
              ))}
            </dl>
          )}
          {card.more > 0 && <span class="custom-more">and {card.more} more</span>}
        </span>
      );
    case 'other':
      return (
        <span class="card-main">
          <span class="card-label">{senderName}</span>
          <span class="card-text">{card.text}</span>
        </span>
      );
  }
}

const ICON_PATHS: Record<'product' | 'gift' | 'red_packet' | 'announcement', string> = {
  product: 'M4.5 6.5h11l-.9 10h-9.2l-.9-10zM7.5 8V5.5a2.5 2.5 0 0 1 5 0V8',
  gift: 'M3.5 7.5h13v3h-13zM4.5 10.5h11v6h-11zM10 7.5v9M10 7.5C8.5 4 5.5 4.5 6.5 6.5c.4.8 2 1 3.5 1zM10 7.5c1.5-3.5 4.5-3 3.5-1-.4.8-2 1-3.5 1z',
  red_packet: 'M5 3.5h10v13H5zM5 6.5l5 3.5 5-3.5M10 12.5v.01',
  announcement: 'M3.5 8.5v3h2.5l5 3.5v-10l-5 3.5zM13.5 7.5a3.5 3.5 0 0 1 0 5M6 11.5l1 4h2l-1-4',
};

function CardIcon({ kind }: { kind: keyof typeof ICON_PATHS }) {
  return (
    <svg viewBox="0 0 20 20" aria-hidden="true">
      <path d={ICON_PATHS[kind]} fill="none" stroke="currentColor" stroke-width="1.6" stroke-linecap="round" stroke-linejoin="round" />
    </svg>
  );
}
