/**
 * Message kinds: how each kind of message looks in a conversation and in the
 * conversation list. A new kind (a poll, a custom type, ...) is one new module
 * exporting a MessageKind, listed in KINDS below; nothing else changes.
 * The first kind whose `matches` accepts a message renders it.
 */
import type { Message } from '@parley/client';
import type { ComponentType } from 'preact';
import { binaryKind } from './binary-message.js';
import { customKind } from './custom-message.js';
import { fileKind } from './file-message.js';
import { imageKind } from './image-message.js';
import { locationKind } from './location-message.js';
import { recalledKind } from './recalled-message.js';
import { systemKind } from './system-message.js';
import { textKind } from './text-message.js';
import { videoKind } from './video-message.js';
import { voiceKind } from './voice-message.js';

export interface MessageContext {
  selfId: string;
  /** Known display names by user id. */
  names: ReadonlyMap<string, string>;
  conversationKind: 'direct' | 'group';
  /** The group's name, for events such as "You were added to Team". */
  conversationName?: string;
  /** The user administers the group: they may recall anyone's message. */
  moderates?: boolean;
}

export interface MessageBodyProps {
  message: Message;
  context: MessageContext;
}

export interface MessageKind {
  /** Stable name; rendered as `data-kind` on the message. */
  name: string;
  matches(message: Message): boolean;
  /** 'bubble': a chat bubble with sender, time and send state. 'event': a centred line in the timeline. */
  layout: 'bubble' | 'event';
  /** Renders the content. Text goes through JSX only, never innerHTML. */
  Body: ComponentType<MessageBodyProps>;
  /** One plain-text line for the conversation list. */
  preview(message: Message, context: MessageContext): string;
}

/**
 * A recalled message has nothing left to show but that it was recalled.
 * Typed content first: those messages also carry a text (the server's
 * fallback line, "📷 Photo"), which the text kind would otherwise take. A
 * content type newer than this app ('unknown') falls through to text.
 */
const KINDS: readonly MessageKind[] = [recalledKind, systemKind, imageKind, videoKind, voiceKind, fileKind, locationKind, customKind, textKind, binaryKind];

const unsupportedKind: MessageKind = {
  name: 'unsupported',
  matches: () => true,
  layout: 'bubble',
  Body: () => <span class="message-unsupported">This message cannot be shown in this version of the app.</span>,
  preview: () => 'Unsupported message',
};

export function messageKind(message: Message): MessageKind {
  return KINDS.find((kind) => kind.matches(message)) ?? unsupportedKind;
}
