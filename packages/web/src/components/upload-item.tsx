/**
 * A photo, file, voice note or video on its way: an own bubble at the end of
 * the conversation with what is being sent (the photo itself, from the
 * local file, or the file's name and size), a progress bar and Cancel; once
 * the bytes are up, "Sending…" until the server stored the message, which
 * then takes its place. A failed upload says why, with Retry and Delete.
 */
import type { MediaKind } from '@parley/client';
import { memo } from 'preact/compat';
import type { PendingUpload } from '../chat/chat-store.js';
import { formatBytes, messageTime } from '../format.js';

interface UploadItemProps {
  upload: PendingUpload;
  firstInRun: boolean;
  onCancel(): void;
  onRetry(): void;
}

const KIND_LABELS: Record<MediaKind, string> = { image: 'Photo', file: 'File', voice: 'Voice message', video: 'Video' };

export const UploadItem = memo(function UploadItem({ upload, firstInRun, onCancel, onRetry }: UploadItemProps) {
  const failed = upload.state === 'failed';
  const uploaded = upload.totalBytes > 0 && upload.sentBytes >= upload.totalBytes;
  const percent = upload.totalBytes > 0 ? Math.min(100, Math.round((upload.sentBytes / upload.totalBytes) * 100)) : 0;
  const name = upload.fileName === '' ? KIND_LABELS[upload.kind] : upload.fileName;
  return (
    <li
      class={`message-row own upload-row${firstInRun ? ' first-in-run' : ''}`}
      data-testid="upload"
      data-kind={upload.kind}
      data-state={failed ? 'failed' : uploaded ? 'sending' : 'uploading'}
      data-client-msg-id={upload.clientMsgId}
    >
      <div class={`bubble upload-bubble${failed ? ' bubble-failed' : ''}`}>
        {upload.previewUrl !== undefined ? (
          <img class="upload-preview" src={upload.previewUrl} alt={name} />
        ) : (
          <div class="upload-file">
            <span class="file-icon" aria-hidden="true">
              <svg viewBox="0 0 24 24" aria-hidden="true">
                <path d="M6 2.5h8l5 5v14H6z" fill="currentColor" opacity="0.18" />
                <path d="M6 2.5h8l5 5v14H6zM14 2.5v5h5" fill="none" stroke="currentColor" stroke-width="1.4" stroke-linejoin="round" />
              </svg>
            </span>
            <span class="file-info">
              <span class="file-name">{name}</span>
              <span class="file-size">{formatBytes(upload.totalBytes)}</span>
            </span>
          </div>
        )}
        {!failed && (
          <div class="upload-status">
            <div
              class="upload-progress"
              role="progressbar"
              aria-label={`Uploading ${name}`}
              aria-valuemin={0}
              aria-valuemax={100}
              aria-valuenow={percent}
              data-testid="upload-progress"
            >
              <span class="upload-progress-fill" style={{ width: `${percent}%` }} />
            </div>
            <span class="upload-progress-text">{uploaded ? 'Sending…' : `${formatBytes(upload.sentBytes)} of ${formatBytes(upload.totalBytes)}`}</span>
            {!uploaded && (
              <button type="button" class="icon-button small upload-cancel" aria-label={`Cancel sending ${name}`} title="Cancel" data-testid="upload-cancel" onClick={onCancel}>
                <svg viewBox="0 0 20 20" aria-hidden="true">
                  <path d="M5.5 5.5l9 9M14.5 5.5l-9 9" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" />
                </svg>
              </button>
            )}
          </div>
        )}
        <div class="bubble-meta">
          <time dateTime={new Date(upload.createdAt).toISOString()}>{messageTime(upload.createdAt)}</time>
        </div>
      </div>
      {failed && (
        // biome-ignore lint/a11y/useSemanticElements: a fieldset is for form controls; this groups a reason and two buttons
        <div class="failed-actions" role="group" aria-label="Not sent">
          <span class="failed-reason" data-testid="upload-error">
            {upload.error ?? 'Not sent'}
          </span>
          <button type="button" class="link-button" data-testid="upload-retry" onClick={onRetry}>
            Retry
          </button>
          <button type="button" class="link-button muted" data-testid="upload-delete" onClick={onCancel}>
            Delete
          </button>
        </div>
      )}
    </li>
  );
});
