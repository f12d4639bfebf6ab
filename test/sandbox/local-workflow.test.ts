/** The local runner behaves like Step Functions where Countersign relies on it. */
import { describe, expect, it } from 'vitest';
import { createFakeAws } from '../../sandbox/fake-aws.js';
import { LocalWorkflow } from '../../sandbox/local-workflow.js';

const definition = {
  StartAt: 'Review',
  States: {
    Review: {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
      Parameters: { FunctionName: 'review', Payload: { 'taskToken.$': '$$.Task.Token' } },
      // Resolved against the state input, as on AWS (not against Parameters).
      TimeoutSecondsPath: '$.plan.timeoutSeconds',
      Catch: [{ ErrorEquals: ['States.Timeout'], ResultPath: '$.failure', Next: 'Record' }],
      Next: 'Record',
    },
    Record: { Type: 'Task', Resource: 'arn:aws:lambda:us-east-1:123456789012:function:record', End: true },
  },
};

describe('LocalWorkflow', () => {
  it('a timed-out review task answers TaskTimedOut at once, while the execution still runs', async () => {
    // Prepare
    const fake = createFakeAws();
    let token = '';
    let stateDuringRecord: string | undefined;
    const workflow = new LocalWorkflow({
      definition,
      tasks: fake.tasks,
      putEvents: async () => undefined,
      handlers: {
        Review: async (payload) => {
          token = (payload as { taskToken: string }).taskToken;
        },
        Record: async (state) => {
          stateDuringRecord = fake.tasks.state(token);
          return state;
        },
      },
    });
    // Act
    const output = (await workflow.start({ plan: { timeoutSeconds: 1 } }).result) as {
      failure?: { Error: string };
    };
    // Assess
    expect(output.failure?.Error).toBe('States.Timeout');
    expect(stateDuringRecord).toBe('timed-out');
  });
});
