/**
 * One request may be shown in several channels (a policy's `@channels`): a
 * vote in any of them repaints the messages in all of them. Each channel's
 * notifier repaints its own messages; this combines them.
 */
import type { ReviewNotifier } from './contract.js';

/** A notifier that tells every given channel, one after another (each never throws). */
export function everyChannel(...notifiers: ReviewNotifier[]): ReviewNotifier {
  return {
    async requestChanged(request, note) {
      for (const notifier of notifiers) await notifier.requestChanged(request, note);
    },
    async postHocAcknowledged(request, by) {
      for (const notifier of notifiers) await notifier.postHocAcknowledged(request, by);
    },
  };
}
