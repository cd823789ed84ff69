/**
 * What a live room's reliable message shows as in the side panel: a product
 * card, a gift, a red packet, an announcement, the end of the live, or a
 * generic card for an application-defined kind this app has no view for.
 * Data comes from other people's clients and backends, so every field is
 * checked for its type and anything unexpected shows as the generic card.
 */
import type { Message } from '@parley/client';
import { compactValue } from '../messages/custom-message.js';

export const PRODUCT_CARD = 'shop.product_card';
export const GIFT = 'live.gift';
export const RED_PACKET = 'live.red_packet';

/** Fields a generic card lists; the rest are counted. */
const MAX_FIELDS = 6;

export type LiveCard =
  | { kind: 'product'; title: string; price: string; imageUrl?: string }
  | { kind: 'gift'; gift: string; value: string }
  | { kind: 'red_packet'; amount: string; note?: string }
  | { kind: 'announcement'; text: string }
  | { kind: 'ended' }
  | { kind: 'custom'; customType: string; fields: Array<[string, string]>; more: number }
  | { kind: 'other'; text: string };

/** `origin`: the page's; product images from elsewhere are left out (the page's policy loads images from its own server only). */
export function cardOf(message: Message, origin: string): LiveCard {
  if (message.type === 'system') return message.system?.type === 'room_closed' ? { kind: 'ended' } : { kind: 'other', text: 'The live was updated' };
  const content = message.content;
  if (content === undefined) return { kind: 'announcement', text: message.text ?? '' };
  if (content.type !== 'custom') return { kind: 'other', text: message.text ?? '' };
  const data = content.data;
  switch (content.customType) {
    case PRODUCT_CARD:
      if (typeof data.title === 'string' && isAmount(data.price)) {
        const price = amountText(data.price, priceFormat);
        const imageUrl = sameOriginUrl(data.imageUrl, origin);
        return imageUrl === undefined ? { kind: 'product', title: data.title, price } : { kind: 'product', title: data.title, price, imageUrl };
      }
      break;
    case GIFT:
      if (typeof data.gift === 'string' && isAmount(data.value)) return { kind: 'gift', gift: data.gift, value: amountText(data.value, amountFormat) };
      break;
    case RED_PACKET:
      if (isAmount(data.amount)) {
        const amount = amountText(data.amount, amountFormat);
        const note = typeof data.note === 'string' && data.note.trim() !== '' ? data.note.trim() : undefined;
        return note === undefined ? { kind: 'red_packet', amount } : { kind: 'red_packet', amount, note };
      }
      break;
  }
  const entries = Object.entries(data);
  return { kind: 'custom', customType: content.customType, fields: entries.slice(0, MAX_FIELDS).map(([key, value]) => [key, compactValue(value)]), more: Math.max(0, entries.length - MAX_FIELDS) };
}

function isAmount(value: unknown): value is number | string {
  return (typeof value === 'number' && Number.isFinite(value)) || (typeof value === 'string' && value.trim() !== '');
}

/** Gift values and red packet amounts: "1,520", "8.88". */
const amountFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
/** Prices: "20.00", "19.90". */
const priceFormat = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });

/** A number as people read it; a string (a price with its currency, say) as it is. */
function amountText(value: number | string, format: Intl.NumberFormat): string {
  return typeof value === 'string' ? value.trim() : format.format(value);
}

function sameOriginUrl(value: unknown, origin: string): string | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  try {
    const url = new URL(value, origin);
    return url.origin === origin ? url.href : undefined;
  } catch {
    return undefined;
  }
}
