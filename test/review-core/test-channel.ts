/**
 * A second channel for the review core, in a few lines and with no Slack at
 * all: its own user ids, its own directory, a notifier that remembers what it
 * was asked to repaint. Tests drive the core through it with ReviewCommands.
 */
import type {
  ReviewCommand,
  ReviewCoreDeps,
  ReviewOutcome,
  ReviewVerb,
} from '../../lambdas/review-core/contract.js';
import { runReviewCommand } from '../../lambdas/review-core/dispatch.js';
import type { ResolvedIdentity } from '../../lambdas/shared/identity.js';
import { DEMO } from '../support/fixtures.js';

/** The test channel's directory: its own ids, resolved to people (not Slack users). */
export const PEOPLE: Record<string, { email: string; groups: string[] } | 'bot'> = {
  't-alice': { email: 'alice@example.com', groups: [DEMO.approverGroup] },
  't-bob': { email: 'bob@example.com', groups: [DEMO.approverGroup] },
  't-erin': { email: DEMO.owner, groups: [DEMO.approverGroup] },
  't-carol': { email: DEMO.onBehalfOf, groups: [DEMO.approverGroup] },
  't-dave': { email: 'dave@example.com', groups: [] },
  't-agent': 'bot',
  ...Object.fromEntries(
    Array.from({ length: 16 }, (_, i) => [
      `t-approver-${i}`,
      { email: `approver${i}@example.com`, groups: [DEMO.approverGroup] },
    ]),
  ),
};

/** The whole test channel: a directory, a notifier, and commands without any Slack. */
export function testChannel(base: Omit<ReviewCoreDeps, 'resolveActor' | 'notifier'>) {
  const repainted: { requestId: string; status: string; note?: string }[] = [];
  const deps: ReviewCoreDeps = {
    ...base,
    resolveActor: async (actor, groups): Promise<ResolvedIdentity> => {
      const person = actor.channel === 'test' ? PEOPLE[actor.userId] : undefined;
      if (!person)
        return { kind: 'unresolved', slackUserId: actor.userId, reason: 'not in the test directory' };
      if (person === 'bot') return { kind: 'bot', slackUserId: actor.userId, name: actor.userId };
      return {
        kind: 'human',
        slackUserId: actor.userId,
        email: person.email,
        name: actor.userId,
        displayName: actor.userId,
        groups: person.groups.filter((g) => groups.includes(g)),
      };
    },
    notifier: {
      requestChanged: async (request, note) => {
        repainted.push({ requestId: request.intentId, status: request.status, ...(note ? { note } : {}) });
      },
      postHocAcknowledged: async () => {},
    },
  };
  return {
    repainted,
    send: (
      userId: string,
      verb: ReviewVerb,
      requestId: string,
      extra: Partial<ReviewCommand> = {},
    ): Promise<ReviewOutcome> =>
      runReviewCommand(deps, { requestId, verb, actor: { channel: 'test', userId }, ...extra }),
  };
}
