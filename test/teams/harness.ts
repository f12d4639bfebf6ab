/**
 * Wiring for the Teams tests: the interaction harness (dynalite, s3rver, the
 * fake Slack, the fake Step Functions) plus the fake Teams side (Bot
 * Framework keys, token endpoint, Bot Connector, Graph), the Teams channel's
 * dependencies over them, and helpers to post a request's Teams card and to
 * send signed invoke activities as Teams does.
 */
import { slackNotifier } from '../../lambdas/interaction/slack-notifier.js';
import { addSentMessage, getRequest, type RequestItem } from '../../lambdas/shared/store.js';
import { renderAdaptiveCard, seenHashOf } from '../../lambdas/teams/adaptive-card.js';
import { clientCredentialsToken } from '../../lambdas/teams/client-token.js';
import { BOT_FRAMEWORK_SCOPE, botConnector } from '../../lambdas/teams/connector.js';
import { handleTeamsActivity, type TeamsDeps, type TeamsResult } from '../../lambdas/teams/core.js';
import { GRAPH_SCOPE, graphResolver, TEAMS_CHANNEL } from '../../lambdas/teams/directory.js';
import { botFrameworkVerifier } from '../../lambdas/teams/inbound-token.js';
import { teamsNotifier } from '../../lambdas/teams/teams-notifier.js';
import { loadDirectory } from '../../sandbox/fake-slack.js';
import {
  FAKE_TEAMS_APP_ID,
  FAKE_TEAMS_APP_PASSWORD,
  FAKE_TEAMS_CHANNEL,
  FAKE_TEAMS_TENANT,
  invokeActivity,
  type RunningFakeTeams,
  startFakeTeams,
  type TokenOptions,
} from '../../sandbox/fake-teams.js';
import { type Harness, startHarness } from '../interaction/harness.js';
import type { SeedOptions } from '../support/fixtures.js';

export { USERS } from '../interaction/harness.js';

/** The Teams answer, parsed: the invoke response and the card it shows (if any). */
export interface Answer extends TeamsResult {
  invoke?: { statusCode: number; type: string; value: Record<string, unknown> };
  /** Every text on the answered card, joined (labels and values). */
  text: string;
}

export interface TeamsHarness extends Harness {
  teams: RunningFakeTeams;
  teamsDeps: TeamsDeps;
  /** Seeds a PENDING request with a Slack card and a Teams card. */
  seedBoth(options?: SeedOptions): Promise<RequestItem>;
  /** A signed click of a sandbox user on a request's Teams card. */
  clickTeams(
    slackUserId: string,
    verb: string,
    request: RequestItem,
    data?: Record<string, unknown>,
    options?: {
      token?: TokenOptions;
      serviceUrl?: string;
      tenantId?: string;
      id?: string;
      authorization?: string;
    },
  ): Promise<Answer>;
  /** The Teams card of a request as the fake Bot Connector holds it now. */
  teamsCard(request: RequestItem): Promise<Record<string, unknown> | undefined>;
}

/** Every text of a card (TextRuns and TextBlocks), in order. */
export function cardText(card: unknown): string {
  const out: string[] = [];
  const walk = (node: unknown) => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') {
      const n = node as Record<string, unknown>;
      if ((n.type === 'TextRun' || n.type === 'TextBlock') && typeof n.text === 'string') out.push(n.text);
      for (const [k, v] of Object.entries(n)) if (k !== 'text') walk(v);
    }
  };
  walk(card);
  return out.join('\n');
}

/** Starts the interaction harness and the fake Teams side. */
export async function startTeamsHarness(): Promise<TeamsHarness> {
  const base = await startHarness();
  const teams = await startFakeTeams({ directory: loadDirectory() });
  const appPassword = async () => FAKE_TEAMS_APP_PASSWORD;
  const connector = botConnector({
    token: clientCredentialsToken({
      appId: FAKE_TEAMS_APP_ID,
      appPassword,
      tokenUrl: teams.tokenUrl,
      scope: BOT_FRAMEWORK_SCOPE,
    }),
  });
  const graph = graphResolver({
    token: clientCredentialsToken({
      appId: FAKE_TEAMS_APP_ID,
      appPassword,
      tokenUrl: teams.tokenUrl,
      scope: GRAPH_SCOPE,
    }),
    graphUrl: teams.graphUrl,
  });
  const teamsDeps: TeamsDeps = {
    ddb: base.deps.ddb,
    table: base.deps.table,
    sfn: base.deps.sfn,
    now: base.deps.now,
    logger: base.logger,
    // No cooldown between key-set fetches: the tests rotate the key right after forging unknown key ids.
    verifier: botFrameworkVerifier({
      appId: FAKE_TEAMS_APP_ID,
      metadataUrl: teams.metadataUrl,
      refetchCooldownMs: 0,
    }),
    resolveActor: graph,
    connector: async () => connector,
    tenantId: FAKE_TEAMS_TENANT,
    otherChannels: [slackNotifier({ slack: base.deps.slack, logger: base.logger })],
  };
  // A Slack vote repaints the Teams cards too.
  base.deps.otherChannels = [teamsNotifier({ connector: async () => connector, logger: base.logger })];

  const harness: TeamsHarness = Object.assign(base, {
    teams,
    teamsDeps,
    async seedBoth(options: SeedOptions = {}) {
      const request = await base.seed(options);
      const posted = await connector.createCard(
        teams.serviceUrl,
        { channelId: FAKE_TEAMS_CHANNEL, tenantId: FAKE_TEAMS_TENANT },
        renderAdaptiveCard(request),
      );
      await addSentMessage(base.deps, request.intentId, {
        channel: TEAMS_CHANNEL,
        conversationId: posted.conversationId,
        messageId: posted.activityId,
        serviceUrl: teams.serviceUrl,
      });
      return (await getRequest(base.deps, request.intentId))!;
    },
    async clickTeams(
      slackUserId: string,
      verb: string,
      request: RequestItem,
      data: Record<string, unknown> = {},
      options: {
        token?: TokenOptions;
        serviceUrl?: string;
        tenantId?: string;
        id?: string;
        authorization?: string;
      } = {},
    ): Promise<Answer> {
      const activity = invokeActivity(
        teams,
        teams.userOf(slackUserId),
        verb,
        { requestId: request.intentId, seenHash: seenHashOf(request), ...data },
        options,
      );
      const authorization = options.authorization ?? (await teams.authorization(options.token));
      const result = await handleTeamsActivity(teamsDeps, {
        headers: { authorization, 'content-type': 'application/json' },
        rawBody: Buffer.from(JSON.stringify(activity), 'utf8'),
      });
      const invoke = result.contentType === 'application/json' ? JSON.parse(result.body) : undefined;
      return { ...result, ...(invoke ? { invoke } : {}), text: cardText(invoke?.value) };
    },
    async teamsCard(request: RequestItem) {
      const stored = await getRequest(base.deps, request.intentId);
      const message = stored?.messages?.find((m) => m.channel === TEAMS_CHANNEL);
      return message ? teams.activities.get(message.messageId)?.card : undefined;
    },
  });
  const close = base.close;
  harness.close = async () => {
    await teams.close();
    await close();
  };
  const reset = base.reset;
  harness.reset = () => {
    reset();
    teams.reset();
  };
  return harness;
}
