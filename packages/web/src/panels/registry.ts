/**
 * Side panels of an open conversation (members today; media, search, ...
 * later). A new panel is one new component plus its entry in PANELS: the chat
 * header shows a button for every panel available in the conversation.
 */
import type { ConversationSummary } from '@parley/client';
import type { ComponentType } from 'preact';
import { membersPanel } from './members-panel.js';
import { locationPanel } from './location-panel.js';
import { whiteboardPanel } from './whiteboard-panel.js';

export interface PanelProps {
  conversation: ConversationSummary;
}

export interface PanelDefinition {
  /** Stable id; also in test ids (`panel-button-<id>`, `panel-<id>`). */
  id: string;
  title: string;
  /** Header button icon. */
  Icon: ComponentType;
  available(conversation: ConversationSummary): boolean;
  Panel: ComponentType<PanelProps>;
}

export const PANELS: readonly PanelDefinition[] = [membersPanel, whiteboardPanel, locationPanel];
