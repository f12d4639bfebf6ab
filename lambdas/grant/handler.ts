/** Grant API `POST /grants/{grantId}/consume` (API Gateway REST, IAM auth). Logic lives in ./core.ts. */
import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { auditDepsFromEnv } from '../shared/aws.js';
import { parseAgentRoles } from '../status/caller.js';
import { consumeForCaller, type GrantDeps } from './core.js';

const logger = new Logger({ serviceName: 'countersign' });
const deps: GrantDeps = {
  ...auditDepsFromEnv(),
  agentRoles: parseAgentRoles(process.env.COUNTERSIGN_AGENT_ROLES),
};

export const handler = async (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => {
  const grantId = event.pathParameters?.grantId ?? '';
  const callerArn = event.requestContext.identity.userArn;
  const answer = await consumeForCaller(deps, { grantId, callerArn });
  logger.info('grant consume', { grantId, callerArn, statusCode: answer.statusCode });
  return {
    statusCode: answer.statusCode,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    body: JSON.stringify(answer.body),
  };
};
