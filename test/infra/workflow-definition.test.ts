/**
 * The approval workflow's ASL, inspected state by state: names (a contract with
 * the local runner), the Review task's callback pattern and timeout, retries,
 * catches and the fail-closed path.
 */
import { describe, expect, it } from 'vitest';
import { BREAK_GLASS_NOTICE_ERROR, STATE } from '../../lambdas/shared/workflow.js';
import {
  ANNOUNCE_FAILED_CAUSE,
  ANNOUNCE_FAILED_ERROR,
  type AslState,
  EXECUTIONS_FAILED_ALARM_DESCRIPTION,
  FAIL_CLOSED_REASON,
  LAMBDA_SERVICE_ERRORS,
  RECEIVE_STATE,
  renderApprovalWorkflowDefinition,
} from '../../lib/approval-workflow.js';
import { logicalId, synth } from './support.js';

const definition = synth().stack.workflow.renderDefinition();
const state = (name: string): AslState => {
  const found = definition.States[name];
  if (!found) throw new Error(`no state ${name}`);
  return found;
};

describe('workflow definition', () => {
  it('has the contract state names, starting by adding executionId', () => {
    expect(Object.keys(definition.States).sort()).toEqual(
      [...Object.values(STATE), RECEIVE_STATE, 'Recorded'].sort(),
    );
    expect(definition.StartAt).toBe(RECEIVE_STATE);
    expect(state(RECEIVE_STATE)).toMatchObject({ Type: 'Pass', Next: STATE.evaluate, OutputPath: '$.state' });
    expect(state(RECEIVE_STATE).Parameters?.['state.$']).toContain('$$.Execution.Id');
  });

  it('Evaluate and Record get the whole state and keep only the Lambda payload', () => {
    for (const [name, resultPath, handler] of [
      [STATE.evaluate, '$.evaluation', 'evaluate'],
      [STATE.record, '$.decision', 'record'],
    ] as const) {
      expect(state(name)).toMatchObject({
        Type: 'Task',
        Resource: `arn:aws:lambda:us-east-1:123456789012:function:countersign-${handler}`,
        ResultPath: resultPath,
      });
      expect(state(name).Parameters, name).toBeUndefined();
    }
  });

  it('Outcome sends review to Review, duplicate to DuplicateIgnored and anything else to Record', () => {
    expect(state(STATE.outcome)).toEqual({
      Type: 'Choice',
      Choices: [
        { Variable: '$.evaluation.outcome', StringEquals: 'review', Next: STATE.review },
        { Variable: '$.evaluation.outcome', StringEquals: 'duplicate', Next: STATE.duplicate },
      ],
      Default: STATE.record,
    });
    expect(state(STATE.duplicate).Type).toBe('Succeed');
  });

  it('Review waits for a task token, carries only the token and the request id, and times out from the plan', () => {
    const review = state(STATE.review);
    expect(review.Resource).toBe('arn:aws:states:::lambda:invoke.waitForTaskToken');
    expect(review.TimeoutSecondsPath).toBe('$.evaluation.review.timeoutSeconds');
    expect(review.TimeoutSeconds).toBeUndefined();
    expect(review.ResultPath).toBe('$.review');
    expect(review.Parameters).toEqual({
      FunctionName: 'arn:aws:lambda:us-east-1:123456789012:function:countersign-review',
      Payload: { 'taskToken.$': '$$.Task.Token', 'requestId.$': '$.evaluation.requestId' },
    });
    expect(review.Next).toBe(STATE.record);
  });

  it('Review catches every error (timeout, reviewer errors, failures) once, into Record at $.failure', () => {
    expect(state(STATE.review).Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: STATE.record },
    ]);
    expect(state(STATE.evaluate).Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: STATE.record },
    ]);
  });

  it('every Lambda task retries Lambda service errors (only) with backoff; Record also a refused break-glass notice', () => {
    const serviceRetry = expect.objectContaining({
      ErrorEquals: LAMBDA_SERVICE_ERRORS,
      BackoffRate: 2,
      MaxAttempts: 6,
    });
    for (const name of [STATE.evaluate, STATE.review]) {
      expect(state(name).Retry, name).toEqual([serviceRetry]);
    }
    expect(state(STATE.record).Retry).toEqual([
      serviceRetry,
      expect.objectContaining({ ErrorEquals: [BREAK_GLASS_NOTICE_ERROR], BackoffRate: 2, MaxAttempts: 6 }),
    ]);
    expect(LAMBDA_SERVICE_ERRORS).toEqual([
      'Lambda.ServiceException',
      'Lambda.AWSLambdaException',
      'Lambda.SdkClientException',
      'Lambda.TooManyRequestsException',
    ]);
  });

  it('Announce publishes the decision on the bus with the PutEvents integration and discards the result', () => {
    const announce = state(STATE.announce);
    expect(announce).toMatchObject({
      Type: 'Task',
      Resource: 'arn:aws:states:::events:putEvents',
      ResultPath: null,
      Next: 'Recorded',
      Parameters: {
        Entries: [
          {
            'Detail.$': '$.decision',
            DetailType: 'Privileged Action Decided',
            Source: 'countersign',
            EventBusName: 'arn:aws:events:us-east-1:123456789012:event-bus/countersign',
          },
        ],
      },
    });
    expect(announce.Retry?.[0]?.ErrorEquals).toEqual(['States.TaskFailed']);
    expect(state('Recorded').Type).toBe('Succeed');
  });

  it('a failing Announce (after its retries) ends in AnnounceFailed, never in Record or a denial', () => {
    const announce = state(STATE.announce);
    expect(announce.Retry).toEqual([
      expect.objectContaining({ ErrorEquals: ['States.TaskFailed'], MaxAttempts: 6, BackoffRate: 2 }),
    ]);
    expect(announce.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.announceFailure', Next: STATE.announceFailed },
    ]);
    expect(state(STATE.announceFailed)).toEqual({
      Type: 'Fail',
      Error: ANNOUNCE_FAILED_ERROR,
      Cause: ANNOUNCE_FAILED_CAUSE,
    });
    expect(ANNOUNCE_FAILED_ERROR).toBe('Countersign.AnnounceFailed');
    expect(ANNOUNCE_FAILED_CAUSE).toMatch(/recorded but could not be announced.*status API/);
  });

  it('the failed-executions alarm says an AnnounceFailed decision was recorded, not denied', () => {
    const { template } = synth();
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ExecutionsFailed',
      AlarmDescription: EXECUTIONS_FAILED_ALARM_DESCRIPTION,
    });
    expect(EXECUTIONS_FAILED_ALARM_DESCRIPTION).toMatch(
      /Countersign\.AnnounceFailed: the decision was recorded \(it may be APPROVED\) but not announced/,
    );
    expect(EXECUTIONS_FAILED_ALARM_DESCRIPTION.length).toBeLessThanOrEqual(1024);
  });

  it('a failing Record announces a DENIED decision and fails the execution (fail closed)', () => {
    expect(state(STATE.record).Catch).toEqual([
      // A break-glass notice nobody could post: Record again, with the failure, records the denial.
      { ErrorEquals: [BREAK_GLASS_NOTICE_ERROR], ResultPath: '$.failure', Next: STATE.record },
      { ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: STATE.announceFailClosed },
    ]);
    const failClosed = state(STATE.announceFailClosed);
    expect(failClosed.Resource).toBe('arn:aws:states:::events:putEvents');
    expect(failClosed.Next).toBe(STATE.recordFailed);
    expect(failClosed.Catch?.map((c) => c.Next)).toEqual([STATE.recordFailed]);
    expect((failClosed.Parameters!.Entries as unknown[])[0]).toMatchObject({
      Source: 'countersign',
      DetailType: 'Privileged Action Decided',
      Detail: {
        'intentId.$': '$.detail.intentId',
        status: 'DENIED',
        automatic: true,
        approvers: [],
        reason: FAIL_CLOSED_REASON,
      },
    });
    expect(state(STATE.recordFailed)).toMatchObject({ Type: 'Fail', Error: 'Countersign.RecordFailed' });
  });

  it('is rendered from the deployed template’s definition, and the standalone render is identical', () => {
    const { template } = synth();
    const sm = template.findResources('AWS::StepFunctions::StateMachine');
    const definitionString = JSON.stringify(
      sm[logicalId(template, 'AWS::StepFunctions::StateMachine', 'ApprovalWorkflowStateMachine')]!.Properties
        .DefinitionString,
    );
    expect(definitionString).toContain('lambda:invoke.waitForTaskToken');
    expect(definitionString).toContain('TimeoutSecondsPath');
    expect(renderApprovalWorkflowDefinition()).toEqual(definition);
  });
});
