/**
 * Reads the review cards a bench's requests got from the fake Slack's record
 * of messages: which request each posted card is for, how many cards a
 * request got, when each was first seen, and the Approve button's value (an
 * Approve counts only with the intent version its card shows).
 */
import { parseButtonValue } from '../lambdas/shared/card.js';
import type { RunningFakeSlack } from '../sandbox/fake-slack.js';

/** An incremental index of the cards posted so far. */
export class CardIndex {
  /** Cards posted, by request id. */
  readonly counts = new Map<string, number>();
  /** When the first card of each request was seen (performance.now()). */
  readonly firstSeen = new Map<string, number>();
  /** The channel of each request's first card. */
  readonly channels = new Map<string, string>();
  /** The Approve button's value, by request id. */
  readonly approveValues = new Map<string, string>();
  private scanned = 0;

  constructor(private readonly slack: RunningFakeSlack) {}

  /** Reads the messages posted since the last call. */
  update(now = performance.now()): void {
    const messages = this.slack.messages;
    for (; this.scanned < messages.length; this.scanned++) {
      const m = messages[this.scanned]!;
      if (m.method !== 'chat.postMessage') continue;
      // Buttons carry the request id (Approve adds the version it shows: parseButtonValue reads both).
      const value = /"value":"([^"]+)"/.exec(JSON.stringify(m.blocks ?? []))?.[1];
      const id = value === undefined ? undefined : parseButtonValue(value).requestId;
      if (!id) continue;
      this.counts.set(id, (this.counts.get(id) ?? 0) + 1);
      if (!this.firstSeen.has(id)) {
        this.firstSeen.set(id, now);
        this.channels.set(id, m.channel);
      }
      if (value?.includes('@')) this.approveValues.set(id, value);
    }
  }

  has(requestId: string): boolean {
    return this.counts.has(requestId);
  }
}
