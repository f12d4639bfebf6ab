/** Status API `GET /requests/{intentId}` (API Gateway HTTP API, IAM auth, payload format 2.0). Logic lives in ./core.ts. */
import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2WithIAMAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { createDocumentClient } from '../shared/aws.js';
import { requireEnv } from '../shared/env.js';
import { callerArnOf, parseAgentRoles, pathParameter } from './caller.js';
import { requestStatus, type StatusDeps } from './core.js';

const logger = new Logger({ serviceName: 'countersign' });
const deps: StatusDeps = {
  ddb: createDocumentClient(),
  table: requireEnv('COUNTERSIGN_TABLE_NAME'),
  agentRoles: parseAgentRoles(process.env.COUNTERSIGN_AGENT_ROLES),
};

export const handler = async (
  event: APIGatewayProxyEventV2WithIAMAuthorizer,
): Promise<APIGatewayProxyStructuredResultV2> => {
  const intentId = pathParameter(event, 'intentId');
  const callerArn = callerArnOf(event);
  const answer = await requestStatus(deps, { intentId, callerArn });
  logger.info('status read', { intentId, callerArn, statusCode: answer.statusCode });
  return {
    statusCode: answer.statusCode,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    body: JSON.stringify(answer.body),
  };
};
