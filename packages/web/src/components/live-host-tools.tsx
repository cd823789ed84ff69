/**
 * Tools for the host and admins of a live: post a product card (a title and
 * a price; every viewer gets it as a card, reliably) and end the live for
 * everyone, after a second click to confirm.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { describeError } from '../chat/chat-store.js';
import { useLiveStore } from '../live/use-live.js';

/** Longest product title; the card has room for a line or two. */
const MAX_PRODUCT_TITLE_CHARS = 120;

export function LiveHostTools() {
  const store = useLiveStore();
  const [title, setTitle] = useState('');
  const [price, setPrice] = useState('');
  const [busy, setBusy] = useState<'posting' | 'ending' | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [confirming, setConfirming] = useState(false);
  const keepGoing = useRef<HTMLButtonElement>(null);

  // The button pressed made way for the question: focus goes to the answer that changes nothing.
  useEffect(() => {
    if (confirming) keepGoing.current?.focus();
  }, [confirming]);

  const amount = Number(price);
  const valid = title.trim() !== '' && price.trim() !== '' && Number.isFinite(amount) && amount >= 0;

  const run = async (what: 'posting' | 'ending', action: () => Promise<void>): Promise<boolean> => {
    setBusy(what);
    setError(undefined);
    try {
      await action();
      return true;
    } catch (caught) {
      setError(describeError(caught));
      return false;
    } finally {
      setBusy(undefined);
    }
  };

  const post = async (event: Event) => {
    event.preventDefault();
    if (!valid || busy !== undefined) return;
    if (await run('posting', () => store.postProductCard(title.trim(), amount))) {
      setTitle('');
      setPrice('');
    }
  };

  return (
    <section class="live-section host-tools" aria-labelledby="host-tools-title" data-testid="host-tools">
      <h3 id="host-tools-title" class="live-section-title">
        Host tools
      </h3>
      <form class="product-form" onSubmit={post}>
        <label class="field product-title-field">
          <span>Product</span>
          <input data-testid="product-form-title" value={title} maxLength={MAX_PRODUCT_TITLE_CHARS} placeholder="e.g. Linen shirt" onInput={(event) => setTitle(event.currentTarget.value)} />
        </label>
        <label class="field product-price-field">
          <span>Price</span>
          <input
            data-testid="product-form-price"
            type="number"
            inputMode="decimal"
            min="0"
            step="0.01"
            value={price}
            placeholder="0.00"
            onInput={(event) => setPrice(event.currentTarget.value)}
          />
        </label>
        <button type="submit" class="button primary small" data-testid="post-product" disabled={!valid || busy !== undefined}>
          {busy === 'posting' ? 'Posting…' : 'Post product card'}
        </button>
      </form>
      {error !== undefined && (
        <p class="form-error" role="alert" data-testid="host-tools-error">
          {error}
        </p>
      )}
      {confirming ? (
        <fieldset class="end-live-confirm">
          <legend>End the live for everyone?</legend>
          <button
            type="button"
            class="button small danger"
            data-testid="end-live-confirm"
            disabled={busy !== undefined}
            onClick={() => {
              void run('ending', () => store.end()).then((ended) => {
                if (!ended) setConfirming(false);
              });
            }}
          >
            {busy === 'ending' ? 'Ending…' : 'End now'}
          </button>
          <button ref={keepGoing} type="button" class="button small" onClick={() => setConfirming(false)}>
            Keep going
          </button>
        </fieldset>
      ) : (
        <button type="button" class="button small danger end-live" data-testid="end-live" onClick={() => setConfirming(true)}>
          End live
        </button>
      )}
    </section>
  );
}
