/** The local runner behaves like Step Functions where Countersign relies on it. */
import { describe, expect, it, vi } from 'vitest';
import { AgentShare } from '../../sandbox/agent-share.js';
import { createFakeAws } from '../../sandbox/fake-aws.js';
import { LocalWorkflow, UNBOUNDED_TASK_SECONDS, withAwsTaskTimeouts } from '../../sandbox/local-workflow.js';

/** A Lambda function's ARN, as a plain Task's `Resource` names it. */
const lambdaArn = (name: string) => `arn:aws:lambda:us-east-1:123456789012:function:${name}`;

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
    Record: { Type: 'Task', Resource: lambdaArn('record'), End: true },
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

  it('with an agent share, one agent’s task invocations wait behind its own; a task-token wait holds no slot', async () => {
    // Prepare: Evaluate, then a review that waits for its token, then Record.
    const fake = createFakeAws();
    const started: string[] = [];
    const tokens = new Map<string, string>();
    let openFirst!: () => void;
    const firstBlocked = new Promise<void>((resolve) => {
      openFirst = resolve;
    });
    const workflow = new LocalWorkflow({
      definition: {
        StartAt: 'Evaluate',
        States: {
          Evaluate: {
            Type: 'Task',
            Resource: lambdaArn('evaluate'),
            Next: 'Review',
          },
          Review: {
            Type: 'Task',
            Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
            Parameters: {
              FunctionName: 'review',
              Payload: { 'taskToken.$': '$$.Task.Token', 'id.$': '$.id' },
            },
            ResultPath: null,
            Next: 'Record',
          },
          Record: {
            Type: 'Task',
            Resource: lambdaArn('record'),
            End: true,
          },
        },
      },
      tasks: fake.tasks,
      putEvents: async () => undefined,
      share: new AgentShare(1),
      handlers: {
        Evaluate: async (state) => {
          const { id } = state as { id: string };
          started.push(id);
          if (id === 'flood-1') await firstBlocked;
          return state;
        },
        Review: async (payload) => {
          const { id, taskToken } = payload as { id: string; taskToken: string };
          tokens.set(id, taskToken);
        },
        Record: async (state) => ({ recorded: (state as { id: string }).id }),
      },
    });
    const until = async (done: () => boolean) => {
      while (!done()) await new Promise((resolve) => setTimeout(resolve, 5));
    };
    // Act: two executions of the flooding agent, then one of another agent.
    const flood1 = workflow.start({ source: 'countersign.agent.flood-bot', id: 'flood-1' });
    const flood2 = workflow.start({ source: 'countersign.agent.flood-bot', id: 'flood-2' });
    const other = workflow.start({ source: 'countersign.agent.deploy-bot', id: 'other' });
    await until(() => tokens.has('other'));
    // Assess: the other agent reached its review while the flooder's second Evaluate still waits.
    expect(started).toEqual(['flood-1', 'other']);
    openFirst();
    await until(() => tokens.has('flood-1') && tokens.has('flood-2'));
    // Both of the flooder's reviews wait for their tokens at once, with a share of one.
    expect(started).toEqual(['flood-1', 'other', 'flood-2']);
    for (const token of tokens.values())
      await fake.tasks.handle('SendTaskSuccess', { taskToken: token, output: '{}' });
    expect(await Promise.all([flood1.result, flood2.result, other.result])).toEqual([
      { recorded: 'flood-1' },
      { recorded: 'flood-2' },
      { recorded: 'other' },
    ]);
  });

  it('a task with no timeout of its own runs past the local runner’s 60 s default, as on AWS', async () => {
    // Prepare: a task that takes 61 s (fake clock), with nothing to catch a timeout.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      let finish!: (value: unknown) => void;
      const slow = new Promise((resolve) => {
        finish = resolve;
      });
      const workflow = new LocalWorkflow({
        definition: {
          StartAt: 'Evaluate',
          States: {
            Evaluate: {
              Type: 'Task',
              Resource: lambdaArn('evaluate'),
              End: true,
            },
          },
        },
        tasks: createFakeAws().tasks,
        putEvents: async () => undefined,
        handlers: { Evaluate: () => slow },
      });
      // Act
      const execution = workflow.start({ id: 'slow' });
      const settled = execution.result.then(
        (value) => ({ value }),
        (error: Error) => ({ error: error.name }),
      );
      await vi.advanceTimersByTimeAsync(61_000);
      finish({ evaluated: 'slow' });
      // Assess
      expect(await settled).toEqual({ value: { evaluated: 'slow' } });
    } finally {
      vi.useRealTimers();
    }
  });

  it('gives only tasks without a timeout the longest a Node timer holds; set timeouts stay', () => {
    const out = withAwsTaskTimeouts({
      StartAt: 'A',
      States: {
        A: { Type: 'Task', Resource: lambdaArn('a'), Next: 'B' },
        B: {
          Type: 'Task',
          Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
          TimeoutSecondsPath: '$.t',
          Next: 'C',
        },
        C: {
          Type: 'Task',
          Resource: lambdaArn('c'),
          TimeoutSeconds: 5,
          Next: 'D',
        },
        D: { Type: 'Pass', End: true },
      },
    }) as { States: Record<string, Record<string, unknown>> };
    expect(UNBOUNDED_TASK_SECONDS * 1000).toBeLessThanOrEqual(2 ** 31 - 1);
    expect(out.States.A!.TimeoutSeconds).toBe(UNBOUNDED_TASK_SECONDS);
    expect(out.States.B!.TimeoutSeconds).toBeUndefined();
    expect(out.States.C!.TimeoutSeconds).toBe(5);
    expect(out.States.D!.TimeoutSeconds).toBeUndefined();
  });
});
