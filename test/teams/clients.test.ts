/**
 * The Teams channel's outbound clients against the fake Teams side on
 * 127.0.0.1: the client-credentials token is fetched once and reused until
 * shortly before it expires (and after a 401), the Bot Connector client only
 * calls https or loopback service URLs, and Graph resolves directory users to
 * the same identity Slack does, or to unresolved.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messageCard } from '../../lambdas/teams/adaptive-card.js';
import { clientCredentialsToken, TOKEN_MARGIN_SECONDS } from '../../lambdas/teams/client-token.js';
import { BOT_FRAMEWORK_SCOPE, botConnector, ConnectorError } from '../../lambdas/teams/connector.js';
import { GRAPH_SCOPE, graphResolver, teamsVoterId } from '../../lambdas/teams/directory.js';
import { loadDirectory } from '../../sandbox/fake-slack.js';
import {
  entraIdOf,
  FAKE_TEAMS_APP_ID,
  FAKE_TEAMS_APP_PASSWORD,
  FAKE_TEAMS_CHANNEL,
  FAKE_TEAMS_TENANT,
  type RunningFakeTeams,
  startFakeTeams,
} from '../../sandbox/fake-teams.js';

let teams: RunningFakeTeams;
beforeAll(async () => {
  teams = await startFakeTeams({ directory: loadDirectory() });
});
afterAll(async () => {
  await teams?.close();
});

const tokenSource = (now: () => number, appPassword = FAKE_TEAMS_APP_PASSWORD) =>
  clientCredentialsToken({
    appId: FAKE_TEAMS_APP_ID,
    appPassword: async () => appPassword,
    tokenUrl: teams.tokenUrl,
    scope: BOT_FRAMEWORK_SCOPE,
    now,
  });

describe('client-credentials token', () => {
  it('is fetched once, shared by concurrent calls, and fetched again only near expiry', async () => {
    // Prepare
    let clock = 1_000_000;
    const token = tokenSource(() => clock);
    const before = teams.issuedTokens;

    // Act
    const [a, b] = await Promise.all([token(), token()]);
    clock += (3599 - TOKEN_MARGIN_SECONDS - 1) * 1000;
    const c = await token();
    clock += 2000;
    const d = await token();

    // Assess
    expect(a).toBe(b);
    expect(c).toBe(a);
    expect(d).not.toBe(a);
    expect(teams.issuedTokens - before).toBe(2);
  });

  it('a wrong app password gets no token and is not cached as one', async () => {
    const token = tokenSource(Date.now, 'not-the-password-of-the-bot');
    await expect(token()).rejects.toThrow(/token endpoint answered 401/);
    await expect(token()).rejects.toThrow(/401/);
  });
});

describe('Bot Connector client', () => {
  const connector = () => botConnector({ token: tokenSource(Date.now) });

  it('posts, updates in place and replies in the thread', async () => {
    const client = connector();
    const posted = await client.createCard(
      teams.serviceUrl,
      { channelId: FAKE_TEAMS_CHANNEL, tenantId: FAKE_TEAMS_TENANT },
      messageCard('first'),
    );
    await client.updateCard(teams.serviceUrl, posted, messageCard('second'));
    const replyId = await client.reply(teams.serviceUrl, posted, { text: 'a reply' });
    const card = teams.activities.get(posted.activityId)!;
    expect(card.updates).toBe(1);
    expect(JSON.stringify(card.card)).toContain('second');
    expect(teams.activities.get(replyId)).toMatchObject({ replyToId: posted.activityId, text: 'a reply' });
  });

  it('never sends its token to a plain-http service URL that is not loopback', async () => {
    await expect(
      connector().updateCard(
        'http://attacker.example/',
        { conversationId: 'c', activityId: 'a' },
        messageCard('x'),
      ),
    ).rejects.toThrow(ConnectorError);
  });

  it('a failed update is an error the notifier can log (the decision does not depend on it)', async () => {
    const client = connector();
    await expect(
      client.updateCard(
        teams.serviceUrl,
        { conversationId: 'missing', activityId: 'missing' },
        messageCard('x'),
      ),
    ).rejects.toThrow(/answered 404/);
  });
});

describe('Graph identity resolver', () => {
  let resolver: ReturnType<typeof graphResolver> | undefined;
  const resolve: ReturnType<typeof graphResolver> = (actor, groups) => {
    resolver ??= graphResolver({
      token: clientCredentialsToken({
        appId: FAKE_TEAMS_APP_ID,
        appPassword: async () => FAKE_TEAMS_APP_PASSWORD,
        tokenUrl: teams.tokenUrl,
        scope: GRAPH_SCOPE,
      }),
      graphUrl: teams.graphUrl,
    });
    return resolver(actor, groups);
  };
  const teamsActor = (slackId: string) => ({ channel: 'teams', userId: entraIdOf(slackId) });

  it('resolves an Entra user to their canonical email and the asked-about groups they are in', async () => {
    const alice = await resolve(teamsActor('U0ALICE01'), ['security-approvers', 'platform-oncall']);
    expect(alice).toEqual({
      kind: 'human',
      slackUserId: teamsVoterId(entraIdOf('U0ALICE01')),
      email: 'alice@example.com',
      name: 'Alice Adams',
      displayName: 'Alice Adams',
      groups: ['security-approvers'],
    });
  });

  it.each([
    ['a user without an email', { channel: 'teams', userId: entraIdOf('U0NOMAIL9') }, /no email/],
    ['a bot (not a directory user)', { channel: 'teams', userId: entraIdOf('U0AGENT08') }, /no such user/],
    ['an id that is not an Entra object id', { channel: 'teams', userId: '29:1abc' }, /no Entra object id/],
    ['an actor of another channel', { channel: 'slack', userId: 'U0ALICE01' }, /not a teams user/],
  ])('%s is unresolved', async (_name, actor, reason) => {
    const resolved = await resolve(actor, ['security-approvers']);
    expect(resolved.kind).toBe('unresolved');
    expect(resolved.kind === 'unresolved' && resolved.reason).toMatch(reason);
  });
});
