/**
 * Status API core on dynalite: the caller's role decides which agent it is;
 * an agent sees its own requests (status, decision, grant) and nothing else.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditDeps } from '../../lambdas/shared/audit.js';
import { consumeGrant, createGrant } from '../../lambdas/shared/grants.js';
import { decide, finalize, type RequestDecision } from '../../lambdas/shared/store.js';
import { agentForCaller, parseAgentRoles, principalKey } from '../../lambdas/status/caller.js';
import { requestStatus } from '../../lambdas/status/core.js';
import { seedPendingRequest } from '../support/fixtures.js';
import { type LocalAws, startLocalAws } from '../support/local-aws.js';

const ROLES = JSON.stringify([
  { roleArn: 'arn:aws:iam::123456789012:role/agents/deploy-bot-agent', agentId: 'deploy-bot' },
  { roleArn: 'arn:aws:iam::123456789012:role/report-bot-agent', agentId: 'report-bot' },
]);
const DEPLOY_BOT = 'arn:aws:sts::123456789012:assumed-role/deploy-bot-agent/ci-run-42';
const REPORT_BOT = 'arn:aws:sts::123456789012:assumed-role/report-bot-agent/nightly';

let aws: LocalAws;
let deps: AuditDeps;
const now = new Date('2026-03-01T12:00:00.000Z');

beforeAll(async () => {
  aws = await startLocalAws({ table: 'countersign-status', bucket: 'countersign-status-audit' });
  deps = { ddb: aws.ddb, table: aws.table, now: () => now };
});
afterAll(() => aws.close());

describe('caller identity', () => {
  it.each([
    ['arn:aws:sts::123456789012:assumed-role/deploy-bot-agent/s1', 'aws:123456789012:role/deploy-bot-agent'],
    ['arn:aws:iam::123456789012:role/agents/deploy-bot-agent', 'aws:123456789012:role/deploy-bot-agent'],
    ['arn:aws:iam::123456789012:user/ops/alice', 'aws:123456789012:user/alice'],
    ['arn:aws-us-gov:sts::123456789012:assumed-role/r/s', 'aws-us-gov:123456789012:role/r'],
    ['arn:aws:iam::123456789012:root', undefined],
    ['arn:aws:sts::123456789012:federated-user/bob', undefined],
    ['not an arn', undefined],
  ])('principalKey(%s) = %s', (arn, key) => {
    expect(principalKey(arn)).toBe(key);
  });

  it('maps a role session to the agent bound to its role, whatever the role path; other accounts do not match', () => {
    const roles = parseAgentRoles(ROLES);
    expect(agentForCaller(roles, DEPLOY_BOT)).toBe('deploy-bot');
    expect(agentForCaller(roles, REPORT_BOT)).toBe('report-bot');
    expect(
      agentForCaller(roles, 'arn:aws:sts::999999999999:assumed-role/deploy-bot-agent/x'),
    ).toBeUndefined();
    expect(agentForCaller(roles, null)).toBeUndefined();
  });

  it.each([
    ['not json', /not JSON/],
    ['42', /must be an array/],
    [JSON.stringify([{ roleArn: 'arn:aws:s3:::bucket', agentId: 'x' }]), /not an IAM role or user ARN/],
    [JSON.stringify({ 'arn:aws:iam::123456789012:role/r': 'Bad Id' }), /not a valid agent id/],
    [
      JSON.stringify([
        { roleArn: 'arn:aws:iam::123456789012:role/r', agentId: 'a' },
        { roleArn: 'arn:aws:iam::123456789012:role/r', agentId: 'b' },
      ]),
      /bound to both/,
    ],
  ])('refuses a bad COUNTERSIGN_AGENT_ROLES %s', (text, error) => {
    expect(() => parseAgentRoles(text)).toThrow(error);
  });
});

describe('GET /requests/{intentId}', () => {
  const statusDeps = () => ({ ddb: aws.ddb, table: aws.table, agentRoles: parseAgentRoles(ROLES) });

  it('own pending request: status, no decision, no grant', async () => {
    const request = await seedPendingRequest(deps);
    const answer = await requestStatus(statusDeps(), { intentId: request.intentId, callerArn: DEPLOY_BOT });
    expect(answer).toMatchObject({
      statusCode: 200,
      body: {
        intentId: request.intentId,
        agentId: 'deploy-bot',
        status: 'PENDING',
        decision: null,
        grant: null,
      },
    });
    expect(JSON.stringify(answer.body)).not.toContain('task-token');
  });

  it('own approved request: the decision event detail and the grant, with consumedAt once consumed', async () => {
    const request = await seedPendingRequest(deps);
    const grantId = randomUUID();
    const decision: RequestDecision = {
      status: 'APPROVED',
      automatic: false,
      reason: 'approved by reviewers',
      decidedAt: now.toISOString(),
      approvers: [{ slackUserId: 'U0ALICE01', email: 'alice@example.com', at: now.toISOString() }],
      policies: ['default-review'],
      intentHash: request.intentHash,
      breakGlass: true,
      grant: { grantId, expiresAt: '2026-03-01T12:15:00.000Z', singleUse: true },
    };
    await finalize(deps, request.intentId, decision);
    const beforeGrant = await requestStatus(statusDeps(), {
      intentId: request.intentId,
      callerArn: DEPLOY_BOT,
    });
    expect(beforeGrant.body).toMatchObject({ status: 'PENDING', decision: null, grant: null });
    await createGrant(deps, request, decision);
    const before = await requestStatus(statusDeps(), { intentId: request.intentId, callerArn: DEPLOY_BOT });
    expect(before).toMatchObject({
      statusCode: 200,
      body: {
        status: 'APPROVED',
        decision: {
          intentId: request.intentId,
          agentId: 'deploy-bot',
          status: 'APPROVED',
          intentHash: request.intentHash,
          // The same detail the decision event carried, break-glass flag included.
          breakGlass: true,
          grant: { grantId, expiresAt: '2026-03-01T12:15:00.000Z', singleUse: true },
        },
        grant: { grantId, expiresAt: '2026-03-01T12:15:00.000Z', singleUse: true },
      },
    });
    expect((before.body.grant as { consumedAt?: string }).consumedAt).toBeUndefined();
    await consumeGrant(deps, grantId, {
      agentId: 'deploy-bot',
      actor: { type: 'agent', agentId: 'deploy-bot', source: 'countersign.agent.deploy-bot' },
    });
    const after = await requestStatus(statusDeps(), { intentId: request.intentId, callerArn: DEPLOY_BOT });
    expect(after.body.grant).toMatchObject({ grantId, consumedAt: now.toISOString() });
  });

  it('a reviewer decision the workflow has not recorded yet is still PENDING (no grant exists yet)', async () => {
    const request = await seedPendingRequest(deps);
    await decide(deps, request.intentId, {
      status: 'APPROVED',
      automatic: false,
      reason: 'approved by reviewers',
      decidedAt: now.toISOString(),
      approvers: [],
      policies: [],
      intentHash: request.intentHash,
    });
    const answer = await requestStatus(statusDeps(), { intentId: request.intentId, callerArn: DEPLOY_BOT });
    expect(answer.body).toMatchObject({ status: 'PENDING', decision: null, grant: null });
  });

  it("another agent's request is 404, exactly like an unknown one", async () => {
    const request = await seedPendingRequest(deps);
    const foreign = await requestStatus(statusDeps(), { intentId: request.intentId, callerArn: REPORT_BOT });
    const unknown = await requestStatus(statusDeps(), {
      intentId: `intent-${randomUUID()}`,
      callerArn: REPORT_BOT,
    });
    expect(foreign.statusCode).toBe(404);
    expect(unknown.statusCode).toBe(404);
    expect(Object.keys(foreign.body)).toEqual(Object.keys(unknown.body));
  });

  it('a caller that is not a registered agent role is 403', async () => {
    const request = await seedPendingRequest(deps);
    const answer = await requestStatus(statusDeps(), {
      intentId: request.intentId,
      callerArn: 'arn:aws:sts::123456789012:assumed-role/AdminRole/someone',
    });
    expect(answer).toMatchObject({ statusCode: 403, body: { error: 'forbidden' } });
  });
});
