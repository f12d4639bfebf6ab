/**
 * Repaints that a channel cannot do in time. A click must be answered within
 * Slack's 3 s, so when Slack rate-limits the card update after a vote the
 * channel hands the card to the card poster instead of leaving it stale: a
 * `REPAINT#` item in the channel's card queue, then a kick. The poster
 * repaints it from the request as it then stands once Slack allows it
 * (lambdas/poster/core.ts). The queue is the core's store, so channels reach
 * it through here.
 */
import { queueRepaint } from '../shared/card-queue.js';
import type { StoreDeps } from '../shared/store.js';
import type { RequestItem } from './contract.js';

/** Hands a rate-limited card update to the poster: queues the repaint, then kicks the poster. */
export function repaintThroughPoster(
  deps: StoreDeps & { now: () => Date },
  kickPoster: (channel: string) => Promise<void>,
): (request: RequestItem & { card: { channel: string; ts: string } }, note?: string) => Promise<void> {
  return async (request, note) => {
    await queueRepaint(deps, request, note);
    await kickPoster(request.card.channel);
  };
}
