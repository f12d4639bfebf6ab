/**
 * The sandbox's Teams side: the fake Teams services (sandbox/fake-teams.ts),
 * the bot's secret in the fake Secrets Manager, the environment the handlers
 * read to reach them, and the Teams handler run as its Function URL runs it.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { SlackDirectory } from './fake-slack.js';
import {
  FAKE_TEAMS_APP_ID,
  FAKE_TEAMS_APP_PASSWORD,
  FAKE_TEAMS_CHANNEL,
  FAKE_TEAMS_TENANT,
  type RunningFakeTeams,
  startFakeTeams,
} from './fake-teams.js';

/** Id of the Teams secret in the fake Secrets Manager. */
const TEAMS_SECRET_ID = 'countersign/teams';

/** The running Teams side of a loop. */
export interface LocalTeams {
  fake: RunningFakeTeams;
  /** The `COUNTERSIGN_TEAMS_*` variables the handlers read. */
  env: Record<string, string>;
  close(): Promise<void>;
}

/** Starts the fake Teams services and stores the bot's secret. */
export async function startLocalTeams(
  directory: SlackDirectory,
  secrets: { setSecret(id: string, value: string): string },
): Promise<LocalTeams> {
  const fake = await startFakeTeams({ directory });
  const secretArn = secrets.setSecret(
    TEAMS_SECRET_ID,
    JSON.stringify({ appPassword: FAKE_TEAMS_APP_PASSWORD }),
  );
  return {
    fake,
    env: {
      COUNTERSIGN_TEAMS_APP_ID: FAKE_TEAMS_APP_ID,
      COUNTERSIGN_TEAMS_TENANT_ID: FAKE_TEAMS_TENANT,
      COUNTERSIGN_TEAMS_CHANNEL_ID: FAKE_TEAMS_CHANNEL,
      COUNTERSIGN_TEAMS_SERVICE_URL: fake.serviceUrl,
      COUNTERSIGN_TEAMS_SECRET_ARN: secretArn,
      COUNTERSIGN_TEAMS_TOKEN_URL: fake.tokenUrl,
      COUNTERSIGN_TEAMS_OPENID_METADATA_URL: fake.metadataUrl,
      COUNTERSIGN_TEAMS_GRAPH_URL: fake.graphUrl,
    },
    close: () => fake.close(),
  };
}

/** A Function URL event of a POST to the bot's messaging endpoint. */
export function messagingEvent(headers: Record<string, string>, body: string): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/api/messages',
    rawQueryString: '',
    headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])),
    requestContext: {
      http: {
        method: 'POST',
        path: '/api/messages',
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: 'Microsoft-BotFramework/3.1',
      },
    },
    body,
    isBase64Encoded: false,
  } as unknown as APIGatewayProxyEventV2;
}

/** The Teams handler's signature. */
export type TeamsHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;
