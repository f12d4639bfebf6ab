/**
 * Drives the offline loop through every path a handler can take — policy
 * allow and deny, a human approval, a denial with a reason, a modification, a
 * break-glass approval and its acknowledgement, a cancellation, reminders and
 * an escalation, an expiry, the archive of every audit row, a signed digest,
 * status reads and a grant consumption — while {@link CallRecorder} records
 * every AWS API call the handlers make. Prints one JSON line:
 * `{ calls, env, outcomes, unattributed }`. Run in its own process by
 * test/infra/iam-proof.test.ts (one loop per process).
 */
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import type { APIGatewayProxyEventV2WithIAMAuthorizer } from 'aws-lambda';
import { eventBridgeScheduler } from '../../lambdas/review/scheduler.js';
import { lambdaClientConfig } from '../../lambdas/shared/client-config.js';
import { digestObjectKey, hourStart } from '../../lambdas/shared/digest.js';
import { AGENT_SOURCE_PREFIX, CANCEL_DETAIL_TYPE, INTENT_DETAIL_TYPE } from '../../lambdas/shared/intent.js';
import { CountersignLoop } from '../../sandbox/loop.js';
import { signedViewSubmission } from '../../sandbox/slack-click.js';
import { makeIntent } from '../support/fixtures.js';
import { click as clickAs } from '../support/loop.js';
import { startFakeServices } from './fake-services.js';
import { CallRecorder } from './recorder.js';

/** The local names the proof maps to the template's resources. */
export const LOCAL = {
  scheduleGroup: 'countersign-local-reviews',
  reminderFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:countersign-local-reminder',
  schedulerRoleArn: 'arn:aws:iam::000000000000:role/countersign-local-scheduler',
  reminderDeadLetterArn: 'arn:aws:sqs:us-east-1:000000000000:countersign-local-reminders-dlq',
  digestKeyId: 'arn:aws:kms:us-east-1:000000000000:key/00000000-0000-4000-8000-00000000d1e5',
  agentRoleArn: 'arn:aws:iam::000000000000:role/deploy-bot-agent',
} as const;

const USER = { alice: 'U0ALICE01', bob: 'U0BOB0002', carol: 'U0CAROL03' } as const;

const recorder = new CallRecorder().install();
const fakes = await startFakeServices();
Object.assign(process.env, {
  ...fakes.env(),
  COUNTERSIGN_SCHEDULE_GROUP: LOCAL.scheduleGroup,
  COUNTERSIGN_REMINDER_FUNCTION_ARN: LOCAL.reminderFunctionArn,
  COUNTERSIGN_REMINDER_DLQ_ARN: LOCAL.reminderDeadLetterArn,
  COUNTERSIGN_SCHEDULER_ROLE_ARN: LOCAL.schedulerRoleArn,
  COUNTERSIGN_DIGEST_KEY_ID: LOCAL.digestKeyId,
  COUNTERSIGN_AGENT_ROLES: JSON.stringify([{ roleArn: LOCAL.agentRoleArn, agentId: 'deploy-bot' }]),
});
const loop = await CountersignLoop.start({ defaultReviewTimeoutSeconds: 2 });

// The loop swaps Review's scheduler for local timers (no Scheduler emulator);
// put the EventBridge Scheduler adapter back in front of them, on a recorded
// client attributed to Review, so its CreateSchedule calls are proven too.
const review = await import('../../lambdas/review/handler.js');
const eventBridge = eventBridgeScheduler(recorder.attach('review', new SchedulerClient(lambdaClientConfig)), {
  group: LOCAL.scheduleGroup,
  functionArn: LOCAL.reminderFunctionArn,
  roleArn: LOCAL.schedulerRoleArn,
  deadLetterArn: LOCAL.reminderDeadLetterArn,
});
review.useReminderScheduler({
  async schedule(at, payload) {
    await eventBridge.schedule(at, payload);
    await loop.scheduler.schedule(at, payload);
  },
});

const waitFor = async <T>(what: string, check: () => T | undefined | Promise<T | undefined>): Promise<T> => {
  for (let i = 0; i < 750; i++) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
};
const put = (detailType: string, detail: object) => {
  const [result] = loop.putEvents([
    {
      EventBusName: loop.config.eventBusName,
      Source: `${AGENT_SOURCE_PREFIX}deploy-bot`,
      DetailType: detailType,
      Detail: JSON.stringify(detail),
    },
  ]);
  if (!result || !('EventId' in result)) throw new Error(`PutEvents refused: ${JSON.stringify(result)}`);
};
const decision = (intentId: string) =>
  waitFor(`the decision on ${intentId}`, () => loop.decisions.find((e) => e.detail.intentId === intentId));
const cardOpen = async (intentId: string) => {
  await waitFor(`the card of ${intentId}`, () =>
    loop
      .slack!.sent('chat.postMessage')
      .find((m) => JSON.stringify(m.blocks ?? []).includes(`"value":"${intentId}`)),
  );
  await waitFor(`Review of ${intentId} to finish`, async () => {
    const { readChain } = await import('../../lambdas/shared/audit.js');
    const chain = await readChain({ ddb: loop.aws.ddb, table: loop.aws.table }, intentId);
    return chain.some((r) => r.kind === 'card-posted') ? true : undefined;
  });
};
// An Approve carries the version its card shows, as the card's button does.
const click = (userId: string, actionId: string, requestId: string) =>
  clickAs(loop, userId, actionId as Parameters<typeof clickAs>[2], requestId);
const submit = async (
  userId: string,
  actionId: string,
  requestId: string,
  callbackId: string,
  inputs: object,
) => {
  await click(userId, actionId, requestId);
  const view = [...loop.slack!.views.values()].reverse().find((v) => v.view.callback_id === callbackId);
  if (!view) throw new Error(`no ${callbackId} form opened for ${requestId}`);
  return loop.interact(signedViewSubmission(loop.signingSecret, { userId, view, inputs: inputs as never }));
};
const outcomes: Record<string, unknown> = {};
const settle = async (name: string, intentId: string) => {
  outcomes[name] = (await decision(intentId)).detail.status;
};

// Policy allow and policy deny: no human.
// Resources in the configured dev and staging accounts (cdk.json): the environment is derived, not declared.
const allowed = makeIntent({
  environment: 'dev',
  action: 'iam:GetRole',
  resource: 'arn:aws:iam::111122223333:role/app',
  parameters: { roleName: 'app' },
});
put(INTENT_DETAIL_TYPE, allowed);
const denied = makeIntent({ action: 'organizations:LeaveOrganization', parameters: {} });
put(INTENT_DETAIL_TYPE, denied);
await settle('allowed', allowed.intentId);
await settle('denied', denied.intentId);
// The same intent again: Evaluate finds the request and stops the duplicate.
put(INTENT_DETAIL_TYPE, allowed);
await loop.idle();
outcomes.duplicate = await loop.executionsFor(allowed.intentId)[1]?.result;

// A human approval (with a grant), then a human denial with a reason.
const approved = makeIntent();
put(INTENT_DETAIL_TYPE, approved);
await cardOpen(approved.intentId);
await click(USER.alice, 'approve', approved.intentId);
await settle('approved', approved.intentId);
const refused = makeIntent();
put(INTENT_DETAIL_TYPE, refused);
await cardOpen(refused.intentId);
await submit(USER.bob, 'deny', refused.intentId, 'countersign.deny', { reason: 'No change ticket.' });
await settle('denied-by-human', refused.intentId);

// A modification that counts as the modifier's approval.
const modified = makeIntent({
  action: 'data:Export',
  resource: 'warehouse/orders',
  parameters: { dataset: 'orders', rowLimit: 50_000, destination: 's3://exports/orders' },
});
put(INTENT_DETAIL_TYPE, modified);
await cardOpen(modified.intentId);
await submit(USER.alice, 'modify', modified.intentId, 'countersign.modify', { 'param:rowLimit': '10000' });
await settle('modified', modified.intentId);

// Break-glass by the responder, acknowledged afterwards by an approver.
const urgent = makeIntent({
  action: 'secretsmanager:RotateSecret',
  resource: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:payments-db',
  parameters: { secretId: 'payments-db' },
  context: { urgency: 'urgent' },
});
put(INTENT_DETAIL_TYPE, urgent);
await cardOpen(urgent.intentId);
await submit(USER.carol, 'breakglass', urgent.intentId, 'countersign.breakglass', {
  reason: 'Leaked password.',
});
await settle('break-glass', urgent.intentId);
await click(USER.alice, 'acknowledge', urgent.intentId);

// A cancellation by the agent.
const cancelled = makeIntent();
put(INTENT_DETAIL_TYPE, cancelled);
await cardOpen(cancelled.intentId);
put(CANCEL_DETAIL_TYPE, { intentId: cancelled.intentId, reason: 'no longer needed' });
await settle('cancelled', cancelled.intentId);

// Reminders and an escalation (fired early), then a decision.
const rotation = makeIntent({
  action: 'kms:RotateKeyOnDemand',
  resource: 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
  parameters: { keyId: '1234abcd-12ab-34cd-56ef-1234567890ab' },
});
put(INTENT_DETAIL_TYPE, rotation);
await cardOpen(rotation.intentId);
const wakeUps = await waitFor('wake-ups', () => {
  const s = loop.scheduler.for(rotation.intentId);
  return s.length >= 2 ? s : undefined;
});
for (const wakeUp of wakeUps) await loop.scheduler.fire(wakeUp);
outcomes.wakeUps = wakeUps.map((w) => w.payload.kind);
await click(USER.bob, 'approve', rotation.intentId);
await settle('reminded', rotation.intentId);

// An expiry: no policy names the action, so the (short) default timeout applies.
const expiring = makeIntent({
  environment: 'staging',
  action: 'ec2:RebootInstances',
  resource: 'arn:aws:ec2:us-east-1:210987654321:instance/i-0123456789abcdef0',
});
put(INTENT_DETAIL_TYPE, expiring);
await settle('expired', expiring.intentId);
await loop.idle();

// The digest of the current hour, status reads and a grant consumption by the agent.
const digest = await import('../../lambdas/digest/handler.js');
// The last ended hour. The loop digested it itself when it started (an empty hour): its
// object is removed first (by the loop's own S3 client, not a handler's) so the handler writes it.
const lastHour = hourStart(new Date(Date.now() - 3_600_000));
await loop.aws.s3.send(new DeleteObjectCommand({ Bucket: loop.aws.bucket, Key: digestObjectKey(lastHour) }));
outcomes.digest = await digest.handler({ period: lastHour.toISOString() });
const apiEvent = (pathParameters: Record<string, string>) =>
  ({
    version: '2.0',
    pathParameters,
    requestContext: {
      authorizer: {
        iam: {
          userArn: `${LOCAL.agentRoleArn.replace(':iam::', ':sts::').replace(':role/', ':assumed-role/')}/s1`,
        },
      },
    },
  }) as unknown as APIGatewayProxyEventV2WithIAMAuthorizer;
const status = await import('../../lambdas/status/handler.js');
outcomes.status = (await status.handler(apiEvent({ intentId: approved.intentId }))).statusCode;
const grantId = ((await decision(approved.intentId)).detail.grant as { grantId: string }).grantId;
const grant = await import('../../lambdas/grant/handler.js');
outcomes.grant = (await grant.handler(apiEvent({ grantId }))).statusCode;
await loop.idle();

// A privileged call CloudTrail recorded with no approval behind it (its session names an approved
// request whose grant covers another call): the detector reads both, audits and alerts.
loop.putEvents([
  {
    EventBusName: 'default',
    Source: 'aws.iam',
    DetailType: 'AWS API Call via CloudTrail',
    Detail: JSON.stringify({
      eventID: `proof-${Date.now()}`,
      eventTime: `${new Date().toISOString().slice(0, 19)}Z`,
      eventSource: 'iam.amazonaws.com',
      eventName: 'AttachRolePolicy',
      awsRegion: 'us-east-1',
      recipientAccountId: '123456789012',
      requestParameters: {
        roleName: 'payments-deployer',
        policyArn: 'arn:aws:iam::aws:policy/AdministratorAccess',
      },
      userIdentity: {
        type: 'AssumedRole',
        arn: 'arn:aws:sts::123456789012:assumed-role/legacy-admin/s1',
        accountId: '123456789012',
        sessionContext: { sourceIdentity: approved.intentId },
      },
    }),
  },
]);
await loop.idle();
outcomes.detector = (
  loop.targetInvocations.find((t) => t.entry.includes('/detector/'))?.result as { kind?: string } | undefined
)?.kind;

const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('COUNTERSIGN_')));
await loop.close();
await fakes.close();
// Written to a pipe, stdout is asynchronous: exit only once the whole report is flushed.
process.stdout.write(
  `${JSON.stringify({ calls: recorder.calls, env, outcomes, unattributed: recorder.unattributed })}\n`,
  () => process.exit(0),
);
