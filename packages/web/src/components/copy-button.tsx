/** A small "Copy" button for an id people pass on (the user's own id, a live room's id), saying whether it worked. */
import { useEffect, useState } from 'preact/hooks';

interface CopyButtonProps {
  text: string;
  /** The button's accessible name ("Copy your user id ada"). */
  label: string;
  /** Announced once copied ("Your user id was copied"). */
  copiedNote: string;
  testId: string;
}

export function CopyButton({ text, label, copiedNote, testId }: CopyButtonProps) {
  const [copied, setCopied] = useState<'yes' | 'failed' | undefined>();
  useEffect(() => {
    if (copied === undefined) return;
    const timer = setTimeout(() => setCopied(undefined), 2000);
    return () => clearTimeout(timer);
  }, [copied]);
  const copy = () => {
    // The clipboard needs a secure context (https or localhost) and may be refused.
    const writing = navigator.clipboard?.writeText(text) ?? Promise.reject(new Error('no clipboard'));
    writing.then(
      () => setCopied('yes'),
      () => setCopied('failed'),
    );
  };
  return (
    <>
      <button type="button" class="copy-button" data-testid={testId} onClick={copy} aria-label={label}>
        {copied === 'yes' ? 'Copied' : copied === 'failed' ? 'Select and copy' : 'Copy'}
      </button>
      <span class="visually-hidden" role="status">
        {copied === 'yes' ? copiedNote : ''}
      </span>
    </>
  );
}
