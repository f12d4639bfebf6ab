/**
 * The synthesized ASL, run locally, when the bus refuses the decision: Announce
 * retries, then the execution fails as Countersign.AnnounceFailed, and the
 * decision already recorded (here APPROVED) stays exactly as it was, readable
 * through the status API's store.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DECISION_SOURCE } from '../../lambdas/shared/intent.js';
import { ANNOUNCE_FAILED_ERROR } from '../../lib/approval-workflow.js';
import type { CountersignLoop } from '../../sandbox/loop.js';
import { makeIntent } from '../support/fixtures.js';
import {
  decisionFor,
  eventually,
  newIntentId,
  publish,
  request,
  sharedLoop,
  verifiedChain,
} from '../support/loop.js';

let loop: CountersignLoop;
let restore: (() => void) | undefined;
beforeAll(async () => {
  loop = await sharedLoop();
});
afterEach(() => {
  restore?.();
  restore = undefined;
});

/** Makes the local bus answer every decision entry for `intentId` with a per-entry failure, as EventBridge can. */
function refuseDecisionsFor(intentId: string): { attempts: () => number } {
  const original = loop.putEvents.bind(loop);
  let attempts = 0;
  loop.putEvents = (entries) =>
    entries.some((e) => e.Source === DECISION_SOURCE && e.Detail?.includes(intentId))
      ? entries.map(() => {
          attempts += 1;
          return { ErrorCode: 'InternalException', ErrorMessage: 'the bus is unavailable' };
        })
      : original(entries);
  restore = () => {
    loop.putEvents = original;
  };
  return { attempts: () => attempts };
}

describe('announce failure', () => {
  it('an APPROVED decision the bus refuses stays APPROVED; the execution fails as AnnounceFailed after retries', async () => {
    // Prepare: a dev read-only action, approved automatically by policy.
    const intent = makeIntent({
      intentId: newIntentId(),
      environment: 'dev',
      action: 's3:GetObject',
      resource: 'arn:aws:s3:::dev-artifacts/build.log',
    });
    const bus = refuseDecisionsFor(intent.intentId);
    // Act
    publish(loop, intent);
    const execution = await eventually(() => loop.executionsFor(intent.intentId)[0]);
    const outcome = await execution.result.then(
      () => ({ error: undefined as string | undefined, cause: undefined as string | undefined }),
      // The runner wraps the Fail state's error (its name is the ASL Error, its message the Cause).
      (error: Error) => ({ error: (error.cause as Error).name, cause: (error.cause as Error).message }),
    );
    // Assess: retried, then failed under its own name (not RecordFailed, no fail-closed denial).
    expect(outcome.error).toBe(ANNOUNCE_FAILED_ERROR);
    expect(outcome.cause).toMatch(/recorded but could not be announced/);
    expect(bus.attempts()).toBeGreaterThan(1);
    expect(decisionFor(loop, intent.intentId)).toBeUndefined();
    const stored = await request(loop, intent.intentId);
    expect(stored?.status).toBe('APPROVED');
    expect(stored?.decision).toMatchObject({ status: 'APPROVED', automatic: true });
    const chain = await verifiedChain(loop, intent.intentId);
    expect(chain.map((r) => r.kind)).toContain('decided');
    expect(chain.filter((r) => JSON.stringify(r).includes('DENIED'))).toEqual([]);
  });
});
