/**
 * A user's own say in their notifications: how much a notification shows
 * (full text, only the sender, or nothing), overriding the deployment's
 * setting on every device of theirs.
 */
import { ParleyError } from '@parley/protocol';
import type { Store } from '../store/store.js';
import type { PushPreview } from './push-service.js';

const PREVIEWS: readonly PushPreview[] = ['full', 'sender', 'hidden'];

export class PushPreferences {
  constructor(
    private readonly store: Pick<Store, 'pushPreviewOf' | 'setPushPreview'>,
    /** The deployment's preview setting, for users who chose none. */
    readonly deploymentPreview: PushPreview,
  ) {}

  async of(userId: string): Promise<{ preview: PushPreview | undefined; deploymentDefault: PushPreview }> {
    return { preview: await this.store.pushPreviewOf(userId), deploymentDefault: this.deploymentPreview };
  }

  /** undefined returns the user to the deployment's setting. */
  async setPreview(userId: string, preview: PushPreview | undefined): Promise<void> {
    if (preview !== undefined && !PREVIEWS.includes(preview)) throw new ParleyError('INVALID_ARGUMENT', `preview must be one of ${PREVIEWS.join(', ')}, or null`);
    await this.store.setPushPreview(userId, preview);
  }
}
