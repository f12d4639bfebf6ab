/** Grant API `POST /grants/{grantId}/consume` (API Gateway HTTP API, IAM auth, payload format 2.0). Logic lives in ./core.ts. */
import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2WithIAMAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { auditDepsFromEnv } from '../shared/aws.js';
import { callerArnOf, parseAgentRoles, pathParameter } from '../status/caller.js';
import { consumeForCaller, type GrantDeps } from './core.js';

const logger = new Logger({ serviceName: 'countersign' });
const deps: GrantDeps = {
  ...auditDepsFromEnv(),
  agentRoles: parseAgentRoles(process.env.COUNTERSIGN_AGENT_ROLES),
};

export const handler = async (
  event: APIGatewayProxyEventV2WithIAMAuthorizer,
): Promise<APIGatewayProxyStructuredResultV2> => {
  const grantId = pathParameter(event, 'grantId');
  const callerArn = callerArnOf(event);
  const answer = await consumeForCaller(deps, { grantId, callerArn });
  logger.info('grant consume', { grantId, callerArn, statusCode: answer.statusCode });
  return {
    statusCode: answer.statusCode,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    body: JSON.stringify(answer.body),
  };
};
