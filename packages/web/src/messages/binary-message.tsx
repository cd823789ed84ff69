/** Messages that carry only binary data, which this app has no viewer for yet. */
import type { MessageBodyProps, MessageKind } from './registry.js';

function BinaryBody({ message }: MessageBodyProps) {
  const bytes = message.data?.byteLength ?? 0;
  return <span class="message-unsupported">Attachment ({bytes.toLocaleString()} bytes), not viewable here</span>;
}

export const binaryKind: MessageKind = {
  name: 'binary',
  matches: (message) => message.type === 'user' && (message.text === undefined || message.text === '') && message.data !== undefined,
  layout: 'bubble',
  Body: BinaryBody,
  preview: () => 'Attachment',
};
