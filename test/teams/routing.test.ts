/**
 * Where a review is shown, and that every card of it follows the request:
 * the `@channels` policy annotation, the Review task posting to Slack and/or
 * Teams (once, repainting on a retry), Record repainting the Teams card with
 * the final decision (expiry), and reminders as replies in the card's thread.
 */
import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { drain } from '../../lambdas/poster/core.js';
import { record } from '../../lambdas/record/core.js';
import { remind } from '../../lambdas/reminder/core.js';
import { ReviewError, review } from '../../lambdas/review/core.js';
import { evaluateIntent, routeChannels } from '../../lambdas/shared/policy.js';
import { getRequest } from '../../lambdas/shared/store.js';
import { clientCredentialsToken } from '../../lambdas/teams/client-token.js';
import { BOT_FRAMEWORK_SCOPE, botConnector } from '../../lambdas/teams/connector.js';
import { replyInThreads, teamsNotifier, teamsPoster } from '../../lambdas/teams/teams-notifier.js';
import { readPolicyMeta } from '../../lib/policy-bundle.js';
import {
  FAKE_TEAMS_APP_ID,
  FAKE_TEAMS_APP_PASSWORD,
  FAKE_TEAMS_CHANNEL,
  FAKE_TEAMS_TENANT,
} from '../../sandbox/fake-teams.js';
import { DEMO, makeIntent } from '../support/fixtures.js';
import { posterDeps } from '../support/poster.js';
import { cardText, startTeamsHarness, type TeamsHarness } from './harness.js';

let h: TeamsHarness;
let poster: ReturnType<typeof teamsPoster>;
let connector: ReturnType<typeof botConnector>;
beforeAll(async () => {
  h = await startTeamsHarness();
  connector = botConnector({
    token: clientCredentialsToken({
      appId: FAKE_TEAMS_APP_ID,
      appPassword: async () => FAKE_TEAMS_APP_PASSWORD,
      tokenUrl: h.teams.tokenUrl,
      scope: BOT_FRAMEWORK_SCOPE,
    }),
  });
  poster = teamsPoster({
    connector: async () => connector,
    serviceUrl: h.teams.serviceUrl,
    channelId: FAKE_TEAMS_CHANNEL,
    tenantId: FAKE_TEAMS_TENANT,
  });
});
afterAll(async () => {
  await h?.close();
});
beforeEach(() => h.reset());

const policy = (annotation: string) => `@id("p") @outcome("review") ${annotation}
permit (principal, action == Countersign::Action::"request", resource);`;
const metaOf = (text: string) => {
  const json = cedar.policyToJson(text);
  if (json.type === 'failure') throw new Error(json.errors[0]?.message);
  return readPolicyMeta(json.json);
};

describe('@channels', () => {
  it('names where a review is shown: one or both chat channels', () => {
    expect(metaOf(policy('@channels("teams")')).meta.plan?.channels).toEqual(['teams']);
    expect(metaOf(policy('@channels("slack, teams")')).meta.plan?.channels).toEqual(['slack', 'teams']);
    expect(metaOf(policy('')).meta.plan?.channels).toBeUndefined();
  });

  it('refuses unknown or empty channel lists at build time', () => {
    expect(metaOf(policy('@channels("email")')).errors).toEqual([
      '@channels("email") must name one or more of slack, teams, comma-separated',
    ]);
    expect(metaOf(policy('@channels("")')).errors).toHaveLength(1);
  });

  it('the repository’s policies show production directory changes in Slack and Teams, other reviews where the deployment says', () => {
    const ask = (action: string) =>
      evaluateIntent(
        { intent: makeIntent({ action, resource: 'group/payments-admins' }), agentId: 'deploy-bot' },
        { approverGroup: 'security-approvers', timeoutSeconds: 3600 },
      );
    expect(ask('entra:AddGroupMember')).toMatchObject({
      outcome: 'review',
      review: { channels: ['slack', 'teams'], approverGroups: ['security-approvers'] },
    });
    expect(ask('entra:AddGroupMember').policies).toContain('review-prod-directory-change');
    expect(ask('iam:AttachRolePolicy').review?.channels).toBeUndefined();
  });

  it('several matching policies show the review in every channel any of them names; none stated = the deployment default', () => {
    expect(routeChannels([['teams'], undefined, ['slack']])).toEqual({ channels: ['slack', 'teams'] });
    expect(routeChannels([undefined, undefined])).toEqual({});
  });
});

describe('the Review task posts where the plan says', () => {
  const reviewDeps = () => ({
    ddb: h.deps.ddb,
    table: h.deps.table,
    now: () => new Date(),
    slack: async () => h.deps.slack,
    channel: DEMO.channel,
    // The poster drains the card queue at once (its own tests pace it).
    kickPoster: async (channel: string) => {
      await drain(posterDeps(h.deps, h.deps.slack), channel);
    },
    otherChannels: { teams: poster },
  });

  it('slack and teams: one card in each, stored as neutral handles; a retried Review repaints both, posts none', async () => {
    // Prepare: a pending request without cards yet.
    const seeded = await h.seed({ review: { channels: ['slack', 'teams'] } });
    const { card: _card, ...withoutCard } = seeded;
    await h.aws.ddb.send(new PutCommand({ TableName: h.deps.table, Item: withoutCard }));

    // Act
    const first = await review(reviewDeps(), { taskToken: 'token-1', requestId: seeded.intentId });
    const again = await review(reviewDeps(), { taskToken: 'token-2', requestId: seeded.intentId });

    // Assess
    const stored = await getRequest(h.deps, seeded.intentId);
    expect(first.queued).toBe(true);
    expect(stored?.card?.ts).toBe(again.ts);
    expect(stored?.messages).toEqual([
      expect.objectContaining({ channel: 'teams', serviceUrl: h.teams.serviceUrl }),
    ]);
    expect(again.messages).toEqual(first.messages);
    const cards = [...h.teams.activities.values()].filter((a) => !a.replyToId);
    expect(cards).toHaveLength(1);
    expect(cards[0]!.updates).toBe(1);
    expect(h.slack.sent('chat.postMessage').filter((m) => m.channel === DEMO.channel)).toHaveLength(1);
    expect(stored?.taskToken).toBe('token-2');
  });

  it('teams only: no Slack card', async () => {
    const seeded = await h.seed({ review: { channels: ['teams'] } });
    await h.aws.ddb.send(
      new UpdateCommand({
        TableName: h.deps.table,
        Key: { pk: seeded.pk, sk: seeded.sk },
        UpdateExpression: 'REMOVE card',
      }),
    );
    const posted = await review(reviewDeps(), { taskToken: 'token-t', requestId: seeded.intentId });
    expect(posted.ts).toBeUndefined();
    expect(posted.messages).toHaveLength(1);
    expect(h.slack.sent('chat.postMessage')).toHaveLength(0);
    expect(cardText(h.teams.activities.get(posted.messages[0]!.messageId)?.card)).toContain(
      'Waiting for review',
    );
  });

  it('a channel the deployment has not configured fails the review (the workflow denies it)', async () => {
    const seeded = await h.seed({ review: { channels: ['teams'] } });
    const { otherChannels: _none, ...withoutTeams } = reviewDeps();
    await expect(review(withoutTeams, { taskToken: 'token-x', requestId: seeded.intentId })).rejects.toThrow(
      ReviewError,
    );
    expect(h.teams.activities.size).toBe(0);
  });
});

describe('every card follows the request', () => {
  it('Record repaints the Teams card when the review expires', async () => {
    // Prepare
    const request = await h.seedBoth();

    // Act
    await record(
      {
        ddb: h.deps.ddb,
        table: h.deps.table,
        now: () => new Date(),
        grantTtlSeconds: 900,
        otherChannels: [teamsNotifier({ connector: async () => connector, logger: h.logger })],
      },
      {
        executionId: request.executionId!,
        evaluation: {
          requestId: request.intentId,
          outcome: 'review',
          agentId: request.agentId,
          intentHash: request.intentHash,
          reason: 'review',
          policies: ['default-review'],
        },
        failure: { Error: 'States.Timeout', Cause: 'timed out' },
      },
    );

    // Assess
    const card = await h.teamsCard(request);
    expect(cardText(card)).toContain('Expired (denied: nobody decided in time)');
    expect(JSON.stringify(card)).not.toContain('"verb":"approve"');
  });

  it('a Teams card that cannot be repainted does not undo the decision', async () => {
    const request = await h.seedBoth();
    h.teams.failUpdates = 503;
    const answer = await h.clickTeams('U0ALICE01', 'approve', request);
    expect(answer.outcome).toBe('approved');
    expect((await h.request(request.intentId))?.status).toBe('APPROVED');
    expect(h.logger.entries.some((e) => e.message === 'Teams card update failed')).toBe(true);
  });

  it('a reminder is a reply in the Teams card’s thread naming the approver group', async () => {
    // Prepare
    const request = await h.seedBoth();

    // Act
    const outcome = await remind(
      {
        ddb: h.deps.ddb,
        table: h.deps.table,
        now: () => new Date(),
        slack: async () => h.deps.slack,
        replyElsewhere: async (r, text) => replyInThreads(connector, r, text),
      },
      { requestId: request.intentId, kind: 'reminder', beforeSeconds: 600 },
    );

    // Assess
    expect(outcome).toBe('reminded');
    const stored = await getRequest(h.deps, request.intentId);
    const replies = [...h.teams.activities.values()].filter(
      (a) => a.replyToId === stored!.messages![0]!.messageId,
    );
    expect(replies).toHaveLength(1);
    expect(replies[0]!.text).toMatch(/^Reminder for @security-approvers: this review expires at/);
  });
});
