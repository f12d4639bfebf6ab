/**
 * The IAM proof, the other way round: what no principal of the stack may ever
 * do, evaluated with @cloud-copilot/iam-simulate on a stack with two
 * registered agents (identity policies plus the bus, bucket and key
 * policies). Each refusal has a positive control beside it, so a check cannot
 * pass because the request was malformed.
 */
import { describe, expect, it } from 'vitest';
import { evaluate, rolePrincipal } from '../proof/simulate.js';
import { synthDeployed } from '../proof/template.js';

const AGENTS = { 'deploy-bot': 'deploy-bot-agent', 'billing-bot': 'billing-bot-agent' } as const;
const deployed = synthDeployed({ agents: AGENTS });
const machineArn = deployed.ref(deployed.only('AWS::StepFunctions::StateMachine'));
const busId = deployed.only('AWS::Events::EventBus');
const busArn = deployed.attr(busId, 'Arn');
const tableId = [
  ...deployed.ofType('AWS::DynamoDB::Table'),
  ...deployed.ofType('AWS::DynamoDB::GlobalTable'),
][0]!;
const tableArn = deployed.attr(tableId, 'Arn');
const auditBucket = deployed.handlers.get('archive')!.environment.COUNTERSIGN_AUDIT_BUCKET!;

const agentRole = (agentId: keyof typeof AGENTS) =>
  deployed
    .ofType('AWS::IAM::Role')
    .find((id) => deployed.attr(id, 'Arn').endsWith(`:role/${AGENTS[agentId]}`))!;

const request = (role: string, action: string, resource: string, context: Record<string, string> = {}) => {
  const principal = rolePrincipal(deployed, role);
  return evaluate({
    ...principal,
    action,
    resource,
    context: { ...principal.context, 'aws:SecureTransport': 'true', ...context },
    resourcePolicy: deployed.resourcePolicy(resource),
  });
};
const publish = (role: string, source: string, detailType: string) =>
  request(role, 'events:PutEvents', busArn, { 'events:source': source, 'events:detail-type': detailType });

describe('IAM proof: never allowed to an agent', () => {
  const deployBot = agentRole('deploy-bot');

  it('publishes only as itself: not as another agent, not as countersign, never a decision', async () => {
    // Positive controls: its own intents and cancellations go through.
    expect(
      await publish(deployBot, 'countersign.agent.deploy-bot', 'Privileged Action Requested'),
    ).toMatchObject({
      allowed: true,
    });
    expect(
      await publish(deployBot, 'countersign.agent.deploy-bot', 'Privileged Action Cancelled'),
    ).toMatchObject({
      allowed: true,
    });
    for (const [source, detailType] of [
      ['countersign.agent.billing-bot', 'Privileged Action Requested'],
      ['countersign.agent.billing-bot', 'Privileged Action Cancelled'],
      ['countersign.agent.unregistered', 'Privileged Action Requested'],
      ['countersign', 'Privileged Action Decided'],
      ['countersign', 'Privileged Action Requested'],
      ['countersign.agent.deploy-bot', 'Privileged Action Decided'],
    ]) {
      expect(await publish(deployBot, source!, detailType!), `${source} / ${detailType}`).toMatchObject({
        allowed: false,
      });
    }
  });

  it('the bus policy alone refuses agent and decision sources to a principal whose own policy allows any PutEvents', async () => {
    const broad = [
      {
        name: 'broad',
        policy: {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: 'events:PutEvents', Resource: '*' }],
        },
      },
    ];
    const anyone = `arn:aws:iam::${busArn.split(':')[4]}:role/some-other-workload`;
    const as = (source: string, detailType: string) =>
      evaluate({
        principal: `${anyone.replace(':iam::', ':sts::').replace(':role/', ':assumed-role/')}/s`,
        identityPolicies: broad,
        action: 'events:PutEvents',
        resource: busArn,
        context: { 'aws:PrincipalArn': anyone, 'events:source': source, 'events:detail-type': detailType },
        resourcePolicy: deployed.resourcePolicy(busArn),
      });
    for (const [source, detailType] of [
      ['countersign.agent.deploy-bot', 'Privileged Action Requested'],
      ['countersign.agent.new-bot', 'Privileged Action Requested'],
      ['countersign', 'Privileged Action Decided'],
      ['com.example.app', 'Privileged Action Decided'],
      ['com.example.app', 'Order Placed'],
    ]) {
      expect(await as(source!, detailType!), `${source} / ${detailType}`).toMatchObject({
        allowed: false,
        result: 'ExplicitlyDenied',
      });
    }
  });

  it('never completes a review: no SendTaskSuccess or SendTaskFailure on the workflow', async () => {
    for (const action of ['states:SendTaskSuccess', 'states:SendTaskFailure', 'states:SendTaskHeartbeat']) {
      expect(await request(deployBot, action, machineArn), action).toMatchObject({ allowed: false });
    }
    // Positive control: the interaction role may.
    const interaction = deployed.handlers.get('interaction')!.roleLogicalId;
    expect(await request(interaction, 'states:SendTaskSuccess', machineArn)).toMatchObject({ allowed: true });
  });

  it('never writes or reads the table, and never touches the audit bucket or its keys', async () => {
    for (const action of [
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:DeleteItem',
      'dynamodb:GetItem',
    ]) {
      expect(await request(deployBot, action, tableArn), action).toMatchObject({ allowed: false });
    }
    for (const action of ['s3:PutObject', 's3:GetObject']) {
      expect(
        await request(deployBot, action, `arn:aws:s3:::${auditBucket}/records/2026/01/01/x/00000001.json`),
        action,
      ).toMatchObject({ allowed: false });
    }
  });
});

describe('IAM proof: never allowed to any Countersign role', () => {
  const roles = deployed.ofType('AWS::IAM::Role');
  const object = (prefix: string) => `arn:aws:s3:::${auditBucket}/${prefix}2026/01/01/req/00000001.json`;

  it('deletes no audit object or object version, bypasses no retention and changes no lock configuration', async () => {
    const allowed: string[] = [];
    for (const role of roles) {
      for (const prefix of ['records/', 'digests/']) {
        for (const action of ['s3:DeleteObject', 's3:DeleteObjectVersion', 's3:BypassGovernanceRetention']) {
          if ((await request(role, action, object(prefix))).allowed)
            allowed.push(`${role}: ${action} ${prefix}`);
        }
        // Shortening retention: a GOVERNANCE-mode retention (which BypassGovernanceRetention could later lift).
        const governance = await request(role, 's3:PutObjectRetention', object(prefix), {
          's3:object-lock-mode': 'GOVERNANCE',
          's3:object-lock-remaining-retention-days': '1',
        });
        if (governance.allowed) allowed.push(`${role}: s3:PutObjectRetention GOVERNANCE ${prefix}`);
        const lift = await request(role, 's3:PutObjectLegalHold', object(prefix), {
          's3:object-lock-legal-hold': 'OFF',
        });
        if (lift.allowed) allowed.push(`${role}: s3:PutObjectLegalHold OFF ${prefix}`);
      }
      for (const action of [
        's3:PutBucketObjectLockConfiguration',
        's3:PutBucketPolicy',
        's3:DeleteBucketPolicy',
      ]) {
        if ((await request(role, action, `arn:aws:s3:::${auditBucket}`)).allowed)
          allowed.push(`${role}: ${action}`);
      }
    }
    expect(allowed, allowed.join('\n')).toEqual([]);
    expect(roles.length).toBeGreaterThanOrEqual(14);
  });

  it('still lets the archive role write a record under COMPLIANCE retention (the control for the refusals above)', async () => {
    const archive = deployed.handlers.get('archive')!.roleLogicalId;
    const lock = { 's3:object-lock-mode': 'COMPLIANCE', 's3:object-lock-remaining-retention-days': '365' };
    expect(await request(archive, 's3:PutObject', object('records/'), lock)).toMatchObject({ allowed: true });
    expect(await request(archive, 's3:PutObjectRetention', object('records/'), lock)).toMatchObject({
      allowed: true,
    });
  });
});
