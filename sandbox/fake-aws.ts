/**
 * A small wire-compatible fake of the AWS APIs no local server provides:
 * - Step Functions task callbacks (`SendTaskSuccess`, `SendTaskFailure`,
 *   `SendTaskHeartbeat`; AWS JSON 1.0, `X-Amz-Target: AWSStepFunctions.<Op>`),
 *   delegated to a pluggable registry of task tokens;
 * - Secrets Manager `GetSecretValue` (AWS JSON 1.1,
 *   `X-Amz-Target: secretsmanager.GetSecretValue`), serving configured secrets
 *   by name or ARN.
 *
 * - the read APIs of a deployed account for `countersign doctor`
 *   (CloudFormation, IAM, EventBridge, KMS, S3 bucket settings, API Gateway
 *   account settings), delegated to {@link FakeAccount} (sandbox/fake-account.ts).
 *
 * Unmodified SDK clients talk to it with `endpoint: url` (or
 * `AWS_ENDPOINT_URL_SFN` / `AWS_ENDPOINT_URL_SECRETS_MANAGER`) and any
 * credentials; signatures are not checked. Errors use AWS's shapes, so the SDK
 * throws its own exception classes (`TaskDoesNotExist`, `TaskTimedOut`, ...).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createFakeAccount, type FakeAccount } from './fake-account.js';

/** Life of a task token as the fake sees it. */
export type TaskState = 'pending' | 'succeeded' | 'failed' | 'timed-out';

/** What happens when a task is settled; `output` is the parsed JSON output. */
export interface TaskCallbacks {
  onTaskSuccess?(token: string, output: unknown): void | Promise<void>;
  onTaskFailure?(token: string, error: string | undefined, cause: string | undefined): void | Promise<void>;
  onTaskHeartbeat?(token: string): void | Promise<void>;
}

/** One Step Functions call, in arrival order. */
export interface TaskCall {
  operation: 'SendTaskSuccess' | 'SendTaskFailure' | 'SendTaskHeartbeat';
  token: string;
  output?: string;
  error?: string;
  cause?: string;
  /** `ok`, or the AWS error code answered. */
  result:
    | 'ok'
    | 'TaskDoesNotExist'
    | 'TaskTimedOut'
    | 'InvalidOutput'
    | 'InvalidToken'
    | 'ThrottlingException';
}

/**
 * Task tokens the fake knows. A token must be registered (or `autoRegister`
 * on) before it can be settled; settling it twice, or settling a timed-out
 * one, answers `TaskTimedOut` as AWS does.
 */
export class FakeTaskRegistry implements TaskCallbacks {
  private readonly tasks = new Map<string, { state: TaskState; callbacks: TaskCallbacks }>();
  /** Every call received. */
  readonly calls: TaskCall[] = [];
  /** Treat unknown tokens as pending tasks instead of answering `TaskDoesNotExist`. */
  autoRegister = false;
  /** Default callbacks for tasks registered without their own. */
  callbacks: TaskCallbacks = {};
  /** Calls still to be throttled, by operation (see {@link throttle}). */
  private readonly throttled = new Map<TaskCall['operation'], number>();

  /**
   * Answers the next `times` calls of `operation` with `ThrottlingException`
   * (a 400 the SDK retries), changing nothing: what a throttled or briefly
   * unavailable Step Functions does to a caller.
   */
  throttle(operation: TaskCall['operation'], times: number): void {
    this.throttled.set(operation, times);
  }

  /** Registers a pending task. */
  register(token: string, callbacks: TaskCallbacks = {}): void {
    this.tasks.set(token, { state: 'pending', callbacks });
  }

  /** Ends a task as the workflow would on a timeout: later calls answer `TaskTimedOut`. */
  timeOut(token: string): void {
    const task = this.tasks.get(token);
    if (task) task.state = 'timed-out';
    else this.tasks.set(token, { state: 'timed-out', callbacks: {} });
  }

  /** State of a token, or undefined when unknown. */
  state(token: string): TaskState | undefined {
    return this.tasks.get(token)?.state;
  }

  /** Calls of one operation, optionally for one token. */
  callsOf(operation: TaskCall['operation'], token?: string): TaskCall[] {
    return this.calls.filter((c) => c.operation === operation && (token === undefined || c.token === token));
  }

  reset(): void {
    this.tasks.clear();
    this.calls.length = 0;
    this.throttled.clear();
  }

  private claim(token: string): TaskCall['result'] | { callbacks: TaskCallbacks } {
    if (typeof token !== 'string' || token.length === 0 || token.length > 2048) return 'InvalidToken';
    let task = this.tasks.get(token);
    if (!task && this.autoRegister) {
      task = { state: 'pending', callbacks: {} };
      this.tasks.set(token, task);
    }
    if (!task) return 'TaskDoesNotExist';
    if (task.state !== 'pending') return 'TaskTimedOut';
    return { callbacks: task.callbacks };
  }

  async onTaskSuccess(token: string, output: unknown): Promise<void> {
    await (this.tasks.get(token)?.callbacks.onTaskSuccess ?? this.callbacks.onTaskSuccess)?.call(
      this.callbacks,
      token,
      output,
    );
  }

  async onTaskFailure(token: string, error: string | undefined, cause: string | undefined): Promise<void> {
    await (this.tasks.get(token)?.callbacks.onTaskFailure ?? this.callbacks.onTaskFailure)?.call(
      this.callbacks,
      token,
      error,
      cause,
    );
  }

  async onTaskHeartbeat(token: string): Promise<void> {
    await (this.tasks.get(token)?.callbacks.onTaskHeartbeat ?? this.callbacks.onTaskHeartbeat)?.call(
      this.callbacks,
      token,
    );
  }

  /** Handles one operation; returns the AWS error code or undefined on success. */
  async handle(
    operation: TaskCall['operation'],
    input: Record<string, unknown>,
  ): Promise<TaskCall['result']> {
    const token = input.taskToken as string;
    const call: TaskCall = { operation, token, result: 'ok' };
    if (operation === 'SendTaskSuccess') call.output = input.output as string;
    if (operation === 'SendTaskFailure') {
      call.error = input.error as string | undefined;
      call.cause = input.cause as string | undefined;
    }
    this.calls.push(call);
    const throttled = this.throttled.get(operation) ?? 0;
    if (throttled > 0) {
      this.throttled.set(operation, throttled - 1);
      call.result = 'ThrottlingException';
      return call.result;
    }
    let output: unknown;
    if (operation === 'SendTaskSuccess') {
      try {
        output = JSON.parse(String(input.output));
      } catch {
        call.result = 'InvalidOutput';
        return call.result;
      }
    }
    const claimed = this.claim(token);
    if (typeof claimed === 'string') {
      call.result = claimed;
      return claimed;
    }
    const task = this.tasks.get(token)!;
    // The state changes before any callback runs, so concurrent calls see the task settled.
    if (operation === 'SendTaskSuccess') {
      task.state = 'succeeded';
      await this.onTaskSuccess(token, output);
    } else if (operation === 'SendTaskFailure') {
      task.state = 'failed';
      await this.onTaskFailure(token, call.error, call.cause);
    } else {
      await this.onTaskHeartbeat(token);
    }
    return 'ok';
  }
}

/** A secret the fake serves. */
export interface FakeSecret {
  name: string;
  arn: string;
  value: string;
}

/** Options of {@link createFakeAws} / {@link startFakeAws}. */
export interface FakeAwsOptions {
  /** Secrets by name or ARN, value as stored (`SecretString`). */
  secrets?: Record<string, string>;
  /** @default 'us-east-1' */
  region?: string;
}

/** The fake's state and request handler, without a server. */
export interface FakeAws {
  tasks: FakeTaskRegistry;
  /** Adds or replaces a secret; `id` is a name or a full ARN. Returns the secret's ARN. */
  setSecret(id: string, value: string): string;
  /** Every GetSecretValue `SecretId` asked for, in order. */
  readonly secretReads: string[];
  /** The deployed account `countersign doctor` reads (empty until {@link FakeAccount.deploy}). */
  account: FakeAccount;
  handleRequest(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

/** A fake AWS with its own HTTP server. */
export interface RunningFakeAws extends FakeAws {
  url: string;
  port: number;
  /** Environment pointing SDK clients built from defaults at the fake. */
  env(): Record<string, string>;
  /** Environment pointing every client `countersign doctor` builds at the fake account. */
  accountEnv(): Record<string, string>;
  close(): Promise<void>;
}

const SFN_OPERATIONS = new Set(['SendTaskSuccess', 'SendTaskFailure', 'SendTaskHeartbeat']);
const ARN_SUFFIX = /-[A-Za-z0-9]{6}$/;

async function readText(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function send(res: ServerResponse, status: number, contentType: string, body: unknown, errorType?: string) {
  res.writeHead(status, {
    'content-type': contentType,
    'x-amzn-requestid': randomUUID(),
    ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
  });
  res.end(JSON.stringify(body));
}

const MESSAGES: Record<string, string> = {
  TaskDoesNotExist: 'Task does not exist anymore',
  TaskTimedOut: 'Task Timed Out',
  InvalidOutput: 'Invalid State Machine Execution Output',
  InvalidToken: 'Invalid Token',
  ThrottlingException: 'Rate exceeded',
};

/** Creates the fake's state and handler; see {@link startFakeAws} for a server. */
export function createFakeAws(options: FakeAwsOptions = {}): FakeAws {
  const region = options.region ?? 'us-east-1';
  const tasks = new FakeTaskRegistry();
  const secrets: FakeSecret[] = [];
  const secretReads: string[] = [];

  const setSecret = (id: string, value: string): string => {
    const name = id.startsWith('arn:') ? (id.split(':secret:')[1] ?? id).replace(ARN_SUFFIX, '') : id;
    const arn = id.startsWith('arn:')
      ? id
      : `arn:aws:secretsmanager:${region}:000000000000:secret:${name}-AbCdEf`;
    const existing = secrets.findIndex((s) => s.arn === arn || s.name === name);
    if (existing >= 0) secrets.splice(existing, 1);
    secrets.push({ name, arn, value });
    return arn;
  };
  for (const [id, value] of Object.entries(options.secrets ?? {})) setSecret(id, value);

  const findSecret = (id: string) => {
    const name = id.startsWith('arn:') ? (id.split(':secret:')[1] ?? '').replace(ARN_SUFFIX, '') : id;
    return secrets.find((s) => s.arn === id || s.name === id || s.name === name);
  };

  const account = createFakeAccount({ region, setSecret });

  async function handleRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = String(req.headers['x-amz-target'] ?? '');
    const [service, operation = ''] = target.split('.');
    const text = await readText(req);
    const answer = account.handle(req, text);
    if (answer) {
      res.writeHead(answer.status, {
        'content-type': answer.contentType,
        'x-amzn-requestid': randomUUID(),
        ...(answer.errorType ? { 'x-amzn-errortype': answer.errorType } : {}),
      });
      res.end(answer.body);
      return;
    }
    let input: Record<string, unknown>;
    try {
      input = text.length > 0 ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      return send(res, 400, 'application/x-amz-json-1.0', {
        __type: 'SerializationException',
        message: 'bad JSON',
      });
    }
    if (service === 'AWSStepFunctions' && SFN_OPERATIONS.has(operation)) {
      const result = await tasks.handle(operation as TaskCall['operation'], input);
      if (result === 'ok') return send(res, 200, 'application/x-amz-json-1.0', {});
      return send(
        res,
        400,
        'application/x-amz-json-1.0',
        { __type: `com.amazonaws.swf.service.v2.model#${result}`, message: MESSAGES[result] },
        result,
      );
    }
    if (service === 'secretsmanager' && operation === 'GetSecretValue') {
      const id = String(input.SecretId ?? '');
      secretReads.push(id);
      const secret = findSecret(id);
      if (!secret) {
        return send(
          res,
          400,
          'application/x-amz-json-1.1',
          {
            __type: 'ResourceNotFoundException',
            message: "Secrets Manager can't find the specified secret.",
          },
          'ResourceNotFoundException',
        );
      }
      return send(res, 200, 'application/x-amz-json-1.1', {
        ARN: secret.arn,
        Name: secret.name,
        SecretString: secret.value,
        VersionId: '00000000-0000-4000-8000-000000000000',
        VersionStages: ['AWSCURRENT'],
        CreatedDate: 1_700_000_000,
      });
    }
    return send(
      res,
      400,
      'application/x-amz-json-1.1',
      {
        __type: 'UnknownOperationException',
        message: `the fake does not implement ${target || '(no target)'}`,
      },
      'UnknownOperationException',
    );
  }

  return { tasks, setSecret, secretReads, account, handleRequest };
}

/** Starts the fake on 127.0.0.1 (a random port unless one is given). */
export async function startFakeAws(
  options: FakeAwsOptions & { port?: number } = {},
): Promise<RunningFakeAws> {
  const fake = createFakeAws(options);
  const server = createServer((req, res) => {
    fake.handleRequest(req, res).catch((error: unknown) => {
      send(res, 500, 'application/x-amz-json-1.0', { __type: 'InternalFailure', message: String(error) });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  return Object.assign(fake, {
    url,
    port,
    env: () => ({ AWS_ENDPOINT_URL_SFN: url, AWS_ENDPOINT_URL_SECRETS_MANAGER: url }),
    accountEnv: () => ({
      AWS_ENDPOINT_URL_CLOUDFORMATION: url,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: url,
      AWS_ENDPOINT_URL_EVENTBRIDGE: url,
      AWS_ENDPOINT_URL_KMS: url,
      AWS_ENDPOINT_URL_IAM: url,
      AWS_ENDPOINT_URL_S3: url,
      AWS_ENDPOINT_URL_API_GATEWAY: url,
    }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
