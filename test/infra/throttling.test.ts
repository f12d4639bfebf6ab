/**
 * What retries what when AWS throttles (docs/scale.md), checked on the
 * synthesized stack: every asynchronous hand-off has a retry policy and ends,
 * when retries run out, in an alarmed dead-letter queue; every Lambda task of
 * the workflow retries Lambda's throttling and service errors; every PutEvents
 * task retries. Nothing a throttle refuses is dropped silently.
 */
import { describe, expect, it } from 'vitest';
import { LAMBDA_SERVICE_ERRORS } from '../../lib/approval-workflow.js';
import { synth } from './support.js';

const { template, stack } = synth();
const resources = template.toJSON().Resources as Record<
  string,
  { Type: string; Properties: Record<string, unknown> }
>;
const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);

type Target = {
  Arn: unknown;
  RetryPolicy?: { MaximumRetryAttempts?: number; MaximumEventAgeInSeconds?: number };
  DeadLetterConfig?: { Arn?: { 'Fn::GetAtt'?: [string, string] } };
};
const targets = ofType('AWS::Events::Rule').flatMap(([id, r]) =>
  ((r.Properties.Targets ?? []) as Target[]).map((t) => ({ rule: id, target: t })),
);
/** The logical ids of the alarmed queues (a CloudWatch alarm on their depth). */
const alarmedQueues = new Set(
  ofType('AWS::CloudWatch::Alarm').flatMap(([, a]) =>
    ((a.Properties.Dimensions ?? []) as { Name: string; Value: { 'Fn::GetAtt'?: [string, string] } }[])
      .filter((d) => d.Name === 'QueueName')
      .map((d) => d.Value['Fn::GetAtt']?.[0]),
  ),
);

describe('throttling: what retries what', () => {
  it('every rule target retries, then dead-letters to an alarmed queue', () => {
    expect(targets.length).toBeGreaterThanOrEqual(3);
    for (const { rule, target } of targets) {
      expect(target.RetryPolicy?.MaximumRetryAttempts, rule).toBeGreaterThan(0);
      expect(target.RetryPolicy?.MaximumEventAgeInSeconds, rule).toBeGreaterThanOrEqual(3600);
      const queue = target.DeadLetterConfig?.Arn?.['Fn::GetAtt']?.[0];
      expect(queue, rule).toBeDefined();
      expect(alarmedQueues.has(queue), `${rule}: its dead-letter queue is alarmed`).toBe(true);
    }
  });

  it('the intent rule keeps retrying StartExecution for hours before dead-lettering', () => {
    const machine = stack.getLogicalId(stack.workflow.stateMachine.node.defaultChild as never);
    const intent = targets.find(({ target }) => JSON.stringify(target.Arn).includes(machine));
    expect(intent?.target.RetryPolicy).toEqual({
      MaximumRetryAttempts: 24,
      MaximumEventAgeInSeconds: 6 * 3600,
    });
  });

  it('a Lambda a rule invokes asynchronously sends what failed every retry to the same alarmed queue', () => {
    const invokeConfigs = ofType('AWS::Lambda::EventInvokeConfig').map(([, r]) => r.Properties);
    const lambdaTargets = targets.filter(({ target }) => {
      const arn = (target.Arn as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt']?.[0];
      return arn !== undefined && resources[arn]?.Type === 'AWS::Lambda::Function';
    });
    expect(lambdaTargets.length).toBeGreaterThanOrEqual(2);
    for (const { rule, target } of lambdaTargets) {
      const fn = (target.Arn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
      const config = invokeConfigs.find((c) => (c.FunctionName as { Ref?: string }).Ref === fn) as
        | { DestinationConfig?: { OnFailure?: { Destination?: { 'Fn::GetAtt'?: [string, string] } } } }
        | undefined;
      expect(config, `${rule}: ${fn} has an asynchronous invocation config`).toBeDefined();
      expect(config?.DestinationConfig?.OnFailure?.Destination?.['Fn::GetAtt']?.[0], rule).toBe(
        target.DeadLetterConfig?.Arn?.['Fn::GetAtt']?.[0],
      );
    }
  });

  it('every Lambda task of the workflow retries Lambda throttling and service errors with backoff', () => {
    const states = Object.entries(stack.workflow.renderDefinition().States);
    // A Lambda task is the lambda:invoke integration or the function's ARN itself (payload-only).
    const lambdaTasks = states.filter(([, s]) =>
      /:states:::lambda:invoke|:lambda:[^:]+:\d+:function:/.test(String(s.Resource ?? '')),
    );
    expect(lambdaTasks.length).toBeGreaterThanOrEqual(3);
    for (const [name, s] of lambdaTasks) {
      const retry = (s.Retry ?? []).find((r) => r.ErrorEquals.includes('Lambda.TooManyRequestsException'));
      expect(retry, name).toBeDefined();
      expect(retry?.ErrorEquals, name).toEqual(expect.arrayContaining([...LAMBDA_SERVICE_ERRORS]));
      expect(retry?.ErrorEquals, name).toContain('Lambda.ServiceException');
      expect(retry?.MaxAttempts, name).toBeGreaterThanOrEqual(3);
      expect(retry?.BackoffRate, name).toBeGreaterThan(1);
    }
  });

  it('every PutEvents task retries any task failure (throttling and failed entries included)', () => {
    const states = Object.entries(stack.workflow.renderDefinition().States);
    const announces = states.filter(([, s]) =>
      String(s.Resource ?? '').includes(':states:::events:putEvents'),
    );
    expect(announces.length).toBeGreaterThanOrEqual(2);
    for (const [name, s] of announces) {
      const retry = (s.Retry ?? []).find((r) => r.ErrorEquals.includes('States.TaskFailed'));
      expect(retry?.MaxAttempts, name).toBeGreaterThanOrEqual(3);
    }
  });

  it('the table stream keeps retrying the archive and dead-letters what never archives', () => {
    const mappings = ofType('AWS::Lambda::EventSourceMapping');
    expect(mappings).toHaveLength(1);
    const mapping = mappings[0]![1];
    expect(mapping.Properties.MaximumRetryAttempts).toBeGreaterThanOrEqual(10);
    expect(mapping.Properties.BisectBatchOnFunctionError).toBe(true);
    const queue = (
      mapping.Properties.DestinationConfig as { OnFailure: { Destination: { 'Fn::GetAtt': [string] } } }
    ).OnFailure.Destination['Fn::GetAtt'][0];
    expect(alarmedQueues.has(queue)).toBe(true);
  });
});
