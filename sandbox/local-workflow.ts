/**
 * Runs the synthesized approval workflow (the ASL CDK produces) with
 * aws-local-stepfunctions, with each Lambda task backed by the real handler
 * module and the EventBridge PutEvents tasks by a local bus.
 *
 * `.waitForTaskToken` works as on AWS: the Review task hands a fresh token to
 * the review handler and waits until someone calls SendTaskSuccess or
 * SendTaskFailure with it (the fake Step Functions API's {@link FakeTaskRegistry}),
 * or until the task's TimeoutSecondsPath elapses; once the task is over, late
 * calls answer `TaskTimedOut` as on AWS.
 */
import { randomUUID } from 'node:crypto';
import { StateMachine } from 'aws-local-stepfunctions';
import type { AgentShare } from './agent-share.js';
import type { FakeTaskRegistry } from './fake-aws.js';

type Json = Record<string, unknown>;
/** A Lambda handler as the workflow invokes it. */
export type TaskHandler = (payload: unknown) => Promise<unknown>;

/** Options of a {@link LocalWorkflow}. */
export interface LocalWorkflowOptions {
  /** The state machine definition (ASL JSON) as synthesized. */
  definition: Json;
  /** Lambda handlers by state name (`Evaluate`, `Review`, `Record`, ...). */
  handlers: Record<string, TaskHandler>;
  /** Receives the entries of every EventBridge PutEvents task. */
  putEvents: (entries: Json[]) => Promise<void>;
  /** Where SendTaskSuccess / SendTaskFailure calls arrive. */
  tasks: FakeTaskRegistry;
  /** Shortens Retry pauses (milliseconds) so error paths run quickly. */
  retryPauseMs?: number;
  /**
   * Called with the type of every execution history event (`ExecutionStarted`,
   * `StateEntered`, `StateRetried`, ...): what the cost bench counts state
   * transitions from. @default - events not read
   */
  onExecutionEvent?: (type: string) => void;
  /**
   * Each agent's share of the process: at most `share.limit` task
   * invocations of one agent (the event's `source`) run at once, the rest
   * wait behind that agent's own. @default - no limit
   */
  share?: AgentShare;
}

/** One execution. */
export interface LocalExecution {
  executionId: string;
  result: Promise<unknown>;
}

/** The synthesized workflow, runnable locally. */
export class LocalWorkflow {
  private readonly machine: StateMachine;
  private readonly states: Record<string, Json>;

  constructor(private readonly options: LocalWorkflowOptions) {
    const definition = withStateInputTimeouts(withAwsTaskTimeouts(options.definition));
    this.machine = new StateMachine(definition as never, {
      validationOptions: { checkArn: false, checkPaths: false },
    });
    this.states = definition.States as Record<string, Json>;
  }

  /** Starts an execution for one EventBridge event. */
  start(event: unknown, name: string = randomUUID()): LocalExecution {
    const executionId = `arn:aws:states:local:000000000000:execution:countersign:${name}`;
    const token = `local-token-${randomUUID()}`;
    const source = (event as Json | undefined)?.source;
    const agent = typeof source === 'string' ? source : 'unknown';
    const overrides: Record<string, (input: unknown) => Promise<unknown>> = {};
    const retryIntervalOverrides: Record<string, number> = {};
    for (const [stateName, state] of Object.entries(this.states)) {
      if (state.Type !== 'Task') continue;
      if (this.options.retryPauseMs !== undefined)
        retryIntervalOverrides[stateName] = this.options.retryPauseMs;
      overrides[stateName] = this.taskOverride(stateName, String(state.Resource), token, agent);
    }
    const run = this.machine.run(event as never, {
      overrides: { taskResourceLocalHandlers: overrides as never, retryIntervalOverrides },
      context: {
        Execution: { Id: executionId, Name: name, Input: event, StartTime: new Date().toISOString() },
        Task: { Token: token },
      } as never,
    });
    const onEvent = this.options.onExecutionEvent;
    if (onEvent) {
      void (async () => {
        for await (const event of run.eventLogs) onEvent(event.type);
      })().catch(() => undefined);
    }
    const result = run.result.finally(() => this.closeTask(token));
    return { executionId, result };
  }

  /** Ends a task's wait; a later SendTask* call answers `TaskTimedOut`. */
  private closeTask(token: string): void {
    if (this.options.tasks.state(token) === 'pending') this.options.tasks.timeOut(token);
  }

  private taskOverride(
    stateName: string,
    resource: string,
    token: string,
    agent: string,
  ): (input: unknown) => Promise<unknown> {
    if (resource.includes(':states:::events:putEvents')) {
      return async (input) => {
        // The optimised integration takes Detail as a JSON object and serialises it, as the service does.
        const entries = (((input as Json).Entries ?? []) as Json[]).map((entry) => ({
          ...entry,
          Detail: typeof entry.Detail === 'string' ? entry.Detail : JSON.stringify(entry.Detail),
        }));
        await this.options.putEvents(entries);
        return { Entries: entries.map(() => ({ EventId: randomUUID() })), FailedEntryCount: 0 };
      };
    }
    const own = this.options.handlers[stateName];
    if (!own) throw new Error(`no local handler for task state ${stateName} (${resource})`);
    const share = this.options.share;
    const handler: TaskHandler = share ? (payload) => share.run(agent, () => own(payload)) : own;
    if (resource.endsWith('.waitForTaskToken')) {
      return async (input) => {
        const wait = new Promise<unknown>((resolve, reject) => {
          this.options.tasks.register(token, {
            onTaskSuccess: (_token, output) => resolve(output),
            onTaskFailure: (_token, error, cause) => {
              const failure = new Error(cause ?? '');
              failure.name = error ?? 'States.TaskFailed';
              reject(failure);
            },
          });
        });
        // The task's own timeout ends the token too, as on AWS: a SendTask* after it answers TaskTimedOut.
        const seconds = Number((input as Json | undefined)?.[TIMEOUT_FIELD]);
        const timer =
          Number.isFinite(seconds) && seconds > 0
            ? setTimeout(() => this.closeTask(token), seconds * 1000)
            : undefined;
        timer?.unref();
        try {
          await handler(lambdaPayload(input));
        } catch (error) {
          clearTimeout(timer);
          this.closeTask(token);
          throw asLambdaError(error);
        }
        return wait.finally(() => clearTimeout(timer));
      };
    }
    const wrapped = resource.includes(':states:::lambda:invoke');
    return async (input) => {
      try {
        const output = await handler(wrapped ? lambdaPayload(input) : input);
        // The optimised integration returns the invocation result; the payload is under `Payload`.
        return wrapped ? { Payload: output, StatusCode: 200, ExecutedVersion: '$LATEST' } : output;
      } catch (error) {
        throw asLambdaError(error);
      }
    };
  }
}

const TIMEOUT_FIELD = '__countersignTimeoutSeconds';

/** The longest timer Node keeps (2^31 - 1 ms), in whole seconds: about 24.8 days. */
export const UNBOUNDED_TASK_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

/**
 * Step Functions gives a Task state with neither `TimeoutSeconds` nor
 * `TimeoutSecondsPath` no timeout of its own (99,999,999 s); a Lambda task is
 * bounded by the function's timeout instead. aws-local-stepfunctions gives
 * such a task 60 s. A sandbox running behind (a flood on a loaded machine)
 * would then end tasks that AWS lets finish with `States.Timeout`, and the
 * workflow's catches would deny requests that were only slow ("could not
 * record the decision"). Those tasks get the longest timeout a Node timer
 * holds instead (a longer one would fire at once).
 */
export function withAwsTaskTimeouts(definition: Json): Json {
  const copy = structuredClone(definition);
  for (const state of Object.values(copy.States as Record<string, Json>)) {
    if (state.Type !== 'Task' || state.TimeoutSeconds !== undefined || state.TimeoutSecondsPath !== undefined)
      continue;
    state.TimeoutSeconds = UNBOUNDED_TASK_SECONDS;
  }
  return copy;
}

/**
 * Step Functions resolves a Task's `TimeoutSecondsPath` against the state's
 * input; aws-local-stepfunctions resolves it against the effective input
 * (after `Parameters`). To run the synthesized ASL with AWS's semantics, the
 * path is copied into `Parameters` (which is evaluated against the state input)
 * and read back from there. Task overrides never see the extra field.
 */
export function withStateInputTimeouts(definition: Json): Json {
  const copy = structuredClone(definition);
  for (const state of Object.values(copy.States as Record<string, Json>)) {
    const path = state.TimeoutSecondsPath;
    if (state.Type !== 'Task' || typeof path !== 'string' || !state.Parameters) continue;
    state.Parameters = { ...(state.Parameters as Json), [`${TIMEOUT_FIELD}.$`]: path };
    state.TimeoutSecondsPath = `$.${TIMEOUT_FIELD}`;
  }
  return copy;
}

/** The `Payload` parameter of a `lambda:invoke` task input. */
function lambdaPayload(input: unknown): unknown {
  const payload = (input as Json | undefined)?.Payload;
  return typeof payload === 'string' ? JSON.parse(payload) : payload;
}

/** A handler's exception, named as Step Functions names a Lambda function error (the error's type). */
function asLambdaError(error: unknown): Error {
  if (error instanceof Error) return error;
  return new Error(String(error));
}
