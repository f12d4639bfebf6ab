/**
 * The IAM proof, service side: the AWS services that act for Countersign
 * (EventBridge Scheduler, Step Functions, EventBridge rules, the Lambda event
 * source mapping) may assume their roles with the context keys AWS sends, and
 * may then do what the stack wires them to do, through the resource policies
 * in the synthesized template.
 */
import { describe, expect, it } from 'vitest';
import type { IamRequest } from '../proof/requests.js';
import { evaluate, rolePrincipal } from '../proof/simulate.js';
import { ACCOUNT, REGION, synthDeployed } from '../proof/template.js';
import { workflowRequests, workflowRole } from '../proof/workflow.js';

const deployed = synthDeployed();
const machineArn = deployed.ref(deployed.only('AWS::StepFunctions::StateMachine'));

/** A service principal's sts:AssumeRole on a role, with aws:SourceAccount and aws:SourceArn. */
const assume = (service: string, roleLogicalId: string, sourceArn: string, sourceAccount = ACCOUNT) =>
  evaluate({
    principal: service,
    identityPolicies: [],
    action: 'sts:AssumeRole',
    resource: deployed.attr(roleLogicalId, 'Arn'),
    context: { 'aws:SourceAccount': sourceAccount, 'aws:SourceArn': sourceArn },
    resourcePolicy: deployed.trustPolicy(roleLogicalId),
  });

/** A request made as a role of the stack, through the target's resource policy. */
const asRole = (request: Omit<IamRequest, 'handler'>) => {
  const principal = rolePrincipal(deployed, request.roleLogicalId, 'service');
  return evaluate({
    ...principal,
    action: request.action,
    resource: request.resource,
    context: { ...principal.context, 'aws:SecureTransport': 'true', ...request.context },
    resourcePolicy: deployed.resourcePolicy(request.resource),
  });
};

/** A request made by a service principal on a resource policy alone. */
const asService = (service: string, action: string, resource: string, sourceArn: string) =>
  evaluate({
    principal: service,
    identityPolicies: [],
    action,
    resource,
    context: { 'aws:SourceAccount': ACCOUNT, 'aws:SourceArn': sourceArn, 'aws:SecureTransport': 'true' },
    resourcePolicy: deployed.resourcePolicy(resource),
  });

const groupArn = (name: string) => `arn:aws:scheduler:${REGION}:${ACCOUNT}:schedule-group/${name}`;
const reminders = deployed.handlers.get('reminder')!;
const review = deployed.handlers.get('review')!;

describe('IAM proof: EventBridge Scheduler', () => {
  it('assumes the reminder role with the schedule group ARN as aws:SourceArn, then invokes the reminder handler', async () => {
    const role = deployed.roleByArn(review.environment.COUNTERSIGN_SCHEDULER_ROLE_ARN!);
    const group = review.environment.COUNTERSIGN_SCHEDULE_GROUP!;
    expect(await assume('scheduler.amazonaws.com', role, groupArn(group))).toMatchObject({ allowed: true });
    expect(
      await asRole({
        roleLogicalId: role,
        action: 'lambda:InvokeFunction',
        resource: reminders.functionArn,
        context: {},
      }),
    ).toMatchObject({ allowed: true });
  });

  it('refuses the reminder role to schedules of another group or another account (confused deputy)', async () => {
    const role = deployed.roleByArn(review.environment.COUNTERSIGN_SCHEDULER_ROLE_ARN!);
    const group = review.environment.COUNTERSIGN_SCHEDULE_GROUP!;
    expect(await assume('scheduler.amazonaws.com', role, groupArn('someone-elses-group'))).toMatchObject({
      allowed: false,
    });
    expect(
      await assume(
        'scheduler.amazonaws.com',
        role,
        groupArn(group).replace(ACCOUNT, '210987654321'),
        '210987654321',
      ),
    ).toMatchObject({ allowed: false });
    expect(await assume('lambda.amazonaws.com', role, groupArn(group))).toMatchObject({ allowed: false });
  });

  it('assumes each stack schedule’s role for its group and reaches the target (and its dead-letter queue)', async () => {
    const schedules = deployed.ofType('AWS::Scheduler::Schedule');
    expect(schedules.length).toBeGreaterThan(0);
    for (const id of schedules) {
      const p = deployed.resolve(deployed.resources[id]!.Properties) as {
        GroupName?: string;
        Target: { Arn: string; RoleArn: string; DeadLetterConfig?: { Arn?: string } };
      };
      const role = deployed.roleByArn(p.Target.RoleArn);
      expect(
        await assume('scheduler.amazonaws.com', role, groupArn(p.GroupName ?? 'default')),
        id,
      ).toMatchObject({
        allowed: true,
      });
      const action = p.Target.Arn.startsWith('arn:aws:lambda:')
        ? 'lambda:InvokeFunction'
        : 'states:StartExecution';
      expect(
        await asRole({ roleLogicalId: role, action, resource: p.Target.Arn, context: {} }),
        id,
      ).toMatchObject({
        allowed: true,
      });
      if (p.Target.DeadLetterConfig?.Arn)
        expect(
          await asRole({
            roleLogicalId: role,
            action: 'sqs:SendMessage',
            resource: p.Target.DeadLetterConfig.Arn,
            context: {},
          }),
          `${id} dead-letter queue`,
        ).toMatchObject({ allowed: true });
    }
  });
});

describe('IAM proof: Step Functions', () => {
  it('assumes the workflow role for this state machine only', async () => {
    const role = workflowRole(deployed);
    expect(await assume('states.amazonaws.com', role, machineArn)).toMatchObject({ allowed: true });
    expect(
      await assume('states.amazonaws.com', role, machineArn.replace(ACCOUNT, '210987654321'), '210987654321'),
    ).toMatchObject({
      allowed: false,
    });
  });

  it('lets every Task state invoke its handler and Announce publish the decision through the bus policy', async () => {
    const requests = workflowRequests(deployed);
    expect(requests.map((r) => r.handler).sort()).toEqual(
      [
        'workflow Announce',
        'workflow AnnounceFailClosed',
        'workflow Evaluate',
        'workflow Record',
        'workflow Review',
      ].sort(),
    );
    const refused: string[] = [];
    for (const request of requests) {
      const verdict = await asRole(request);
      if (!verdict.allowed)
        refused.push(`${request.handler}: ${request.action} on ${request.resource} -> ${verdict.result}`);
    }
    expect(refused).toEqual([]);
  });
});

describe('IAM proof: EventBridge rules and the table stream', () => {
  it('delivers every rule to its target, through the target role or the Lambda permission, and to its dead-letter queue', async () => {
    const rules = deployed.ofType('AWS::Events::Rule');
    expect(rules.length).toBeGreaterThanOrEqual(2);
    for (const rule of rules) {
      const ruleArn = deployed.attr(rule, 'Arn');
      const targets = deployed.resolve(deployed.resources[rule]!.Properties!.Targets) as {
        Arn: string;
        RoleArn?: string;
        DeadLetterConfig?: { Arn?: string };
      }[];
      for (const target of targets) {
        const action = target.Arn.startsWith('arn:aws:states:')
          ? 'states:StartExecution'
          : 'lambda:InvokeFunction';
        if (target.RoleArn) {
          const role = deployed.roleByArn(target.RoleArn);
          expect(await assume('events.amazonaws.com', role, ruleArn), `${rule} role`).toMatchObject({
            allowed: true,
          });
          expect(
            await asRole({ roleLogicalId: role, action, resource: target.Arn, context: {} }),
            rule,
          ).toMatchObject({
            allowed: true,
          });
        } else {
          expect(await asService('events.amazonaws.com', action, target.Arn, ruleArn), rule).toMatchObject({
            allowed: true,
          });
          // The Lambda permission names this rule: another rule cannot invoke the target.
          expect(
            await asService('events.amazonaws.com', action, target.Arn, `${ruleArn}-other`),
            `${rule} from another rule`,
          ).toMatchObject({ allowed: false });
        }
        if (target.DeadLetterConfig?.Arn)
          expect(
            await asService('events.amazonaws.com', 'sqs:SendMessage', target.DeadLetterConfig.Arn, ruleArn),
            `${rule} dead-letter queue`,
          ).toMatchObject({ allowed: true });
      }
    }
  });

  it('lets the archive function’s event source mapping read the stream and park failed batches', async () => {
    for (const id of deployed.ofType('AWS::Lambda::EventSourceMapping')) {
      const p = deployed.resolve(deployed.resources[id]!.Properties) as {
        EventSourceArn: string;
        FunctionName: string;
        DestinationConfig?: { OnFailure?: { Destination?: string } };
      };
      const handler = [...deployed.handlers.values()].find((h) =>
        h.functionArn.endsWith(`:${p.FunctionName}`),
      )!;
      for (const action of ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator']) {
        expect(
          await asRole({
            roleLogicalId: handler.roleLogicalId,
            action,
            resource: p.EventSourceArn,
            context: {},
          }),
          `${handler.name} ${action}`,
        ).toMatchObject({ allowed: true });
      }
      const destination = p.DestinationConfig?.OnFailure?.Destination;
      if (destination)
        expect(
          await asRole({
            roleLogicalId: handler.roleLogicalId,
            action: 'sqs:SendMessage',
            resource: destination,
            context: {},
          }),
          `${handler.name} on-failure destination`,
        ).toMatchObject({ allowed: true });
    }
  });
});
