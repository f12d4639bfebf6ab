/**
 * Grant API (API Gateway HTTP API, IAM auth, payload format 2.0):
 * `POST /grants/{grantId}/consume` spends a grant (./core.ts);
 * `POST /grants/{grantId}/credentials` spends it for executor credentials (./exchange.ts).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { STSClient } from '@aws-sdk/client-sts';
import type { APIGatewayProxyEventV2WithIAMAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { auditDepsFromEnv } from '../shared/aws.js';
import { lambdaClientConfig, observed } from '../shared/client-config.js';
import { callerArnOf, parseAgentRoles, pathParameter } from '../status/caller.js';
import { parseCatalog } from './catalog.js';
import { consumeForCaller } from './core.js';
import { type ExchangeDeps, exchangeForCaller, parseExecutors } from './exchange.js';

const logger = new Logger({ serviceName: 'countersign' });
const deps: ExchangeDeps = {
  ...auditDepsFromEnv(),
  agentRoles: parseAgentRoles(process.env.COUNTERSIGN_AGENT_ROLES),
  catalog: parseCatalog(
    process.env.COUNTERSIGN_ENFORCEMENT_CATALOG ?? '{"version":1,"actions":{}}',
    'COUNTERSIGN_ENFORCEMENT_CATALOG',
  ),
  executors: parseExecutors(process.env.COUNTERSIGN_EXECUTORS),
  sts: observed(new STSClient({ ...lambdaClientConfig })),
};

export const handler = async (
  event: APIGatewayProxyEventV2WithIAMAuthorizer,
): Promise<APIGatewayProxyStructuredResultV2> => {
  const grantId = pathParameter(event, 'grantId');
  const callerArn = callerArnOf(event);
  const credentials = event.rawPath?.endsWith('/credentials') || event.routeKey?.endsWith('/credentials');
  const answer = credentials
    ? await exchangeForCaller(deps, { grantId, callerArn })
    : await consumeForCaller(deps, { grantId, callerArn });
  // Never log the answer body: it may carry credentials.
  logger.info(credentials ? 'grant credentials' : 'grant consume', {
    grantId,
    callerArn,
    statusCode: answer.statusCode,
  });
  return {
    statusCode: answer.statusCode,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    body: JSON.stringify(answer.body),
  };
};
