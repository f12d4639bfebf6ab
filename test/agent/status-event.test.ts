/**
 * The status and grant handlers read the HTTP API's payload format 2.0 event
 * (IAM authorization): the caller's ARN from `requestContext.authorizer.iam`,
 * the id from the route's path parameter. An event without an authenticated
 * caller (for instance the REST API's 1.0 shape) yields no caller: 403.
 */
import type { APIGatewayProxyEventV2WithIAMAuthorizer } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import {
  agentForCaller,
  callerArnOf,
  notAnAgent,
  parseAgentRoles,
  pathParameter,
} from '../../lambdas/status/caller.js';

const CALLER = 'arn:aws:sts::123456789012:assumed-role/deploy-bot-agent/ci-run-42';

/** An HTTP API event as API Gateway sends it for `GET /requests/{intentId}` with IAM authorization. */
function httpApiEvent(intentId: string): APIGatewayProxyEventV2WithIAMAuthorizer {
  return {
    version: '2.0',
    routeKey: 'GET /requests/{intentId}',
    rawPath: `/v1/requests/${intentId}`,
    rawQueryString: '',
    headers: { host: 'abc123.execute-api.eu-west-1.amazonaws.com' },
    pathParameters: { intentId },
    isBase64Encoded: false,
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123',
      domainName: 'abc123.execute-api.eu-west-1.amazonaws.com',
      domainPrefix: 'abc123',
      http: {
        method: 'GET',
        path: `/v1/requests/${intentId}`,
        protocol: 'HTTP/1.1',
        sourceIp: '198.51.100.7',
        userAgent: 'countersign-client',
      },
      requestId: 'req-1',
      routeKey: 'GET /requests/{intentId}',
      stage: 'v1',
      time: '02/Dec/2026:06:00:00 +0000',
      timeEpoch: 1_796_191_200_000,
      authorizer: {
        iam: {
          accessKey: 'ASIAEXAMPLE',
          accountId: '123456789012',
          callerId: 'AROAEXAMPLE:ci-run-42',
          cognitoIdentity: null,
          principalOrgId: 'o-example',
          userArn: CALLER,
          userId: 'AROAEXAMPLE:ci-run-42',
        },
      },
    },
  };
}

describe('HTTP API event parsing', () => {
  it('reads the authenticated caller and the path parameter of a payload format 2.0 event', () => {
    const event = httpApiEvent('intent-0001-demo');
    expect(callerArnOf(event)).toBe(CALLER);
    expect(pathParameter(event, 'intentId')).toBe('intent-0001-demo');
    const roles = parseAgentRoles(
      JSON.stringify([{ roleArn: 'arn:aws:iam::123456789012:role/deploy-bot-agent', agentId: 'deploy-bot' }]),
    );
    expect(agentForCaller(roles, callerArnOf(event))).toBe('deploy-bot');
  });

  it('finds no caller in an event without the IAM authorizer context (REST 1.0 shape): refused', () => {
    const restShape = {
      pathParameters: { intentId: 'intent-0001-demo' },
      requestContext: { identity: { userArn: CALLER } },
    };
    expect(callerArnOf(restShape as never)).toBeUndefined();
    expect(callerArnOf({ requestContext: { authorizer: { iam: { userArn: '' } } } })).toBeUndefined();
    expect(callerArnOf({})).toBeUndefined();
    expect(pathParameter({}, 'intentId')).toBe('');
    expect(notAnAgent(callerArnOf(restShape as never)).statusCode).toBe(403);
  });
});
