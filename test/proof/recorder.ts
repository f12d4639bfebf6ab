/**
 * Records every AWS API call the handlers make: an SDK middleware added to each
 * client a handler builds (through the observer hook of
 * lambdas/shared/client-config.ts). A call is attributed to the handler whose
 * module built the client (`lambdas/<name>/handler.ts` on the construction
 * stack), and keeps only what IAM evaluation needs from its input.
 */
import { CLIENT_OBSERVER } from '../../lambdas/shared/client-config.js';

/** One AWS API call as a handler made it. */
export interface RecordedCall {
  /** Handler directory name (`evaluate`, `interaction`, ...). */
  handler: string;
  /** SDK client name without `Client` (`DynamoDB`, `S3`, `SFN`, ...). */
  service: string;
  /** API operation (`PutItem`, `GetSecretValue`, ...). */
  operation: string;
  /** The input fields that name resources or carry condition keys. */
  input: Record<string, unknown>;
}

interface MiddlewareClient {
  middlewareStack: {
    add(
      middleware: (
        next: (args: { input: Record<string, unknown> }) => Promise<unknown>,
        context: { clientName?: string; commandName?: string },
      ) => (args: { input: Record<string, unknown> }) => Promise<unknown>,
      options: { step: 'initialize'; name: string; priority: 'low' },
    ): void;
  };
}

// Fields that name a resource or carry a condition key; item contents are left out.
const KEPT = [
  'TableName',
  'IndexName',
  'Bucket',
  'Key',
  'Prefix',
  'ObjectLockMode',
  'ObjectLockRetainUntilDate',
  'ObjectLockLegalHoldStatus',
  'BypassGovernanceRetention',
  'SecretId',
  'KeyId',
  'SigningAlgorithm',
  'Name',
  'GroupName',
  'Target',
  'Entries',
  'RequestItems',
  'TransactItems',
] as const;

function keep(input: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of KEPT) {
    const value = input[field];
    if (value === undefined) continue;
    if (field === 'Key' && typeof value !== 'string') continue; // a DynamoDB key: item data
    if (field === 'Target') {
      const t = value as { Arn?: string; RoleArn?: string };
      out.Target = { Arn: t.Arn, RoleArn: t.RoleArn };
    } else if (field === 'Entries') {
      out.Entries = (value as { EventBusName?: string; Source?: string; DetailType?: string }[]).map((e) => ({
        EventBusName: e.EventBusName,
        Source: e.Source,
        DetailType: e.DetailType,
      }));
    } else if (field === 'RequestItems' || field === 'TransactItems') {
      out[field] = JSON.parse(
        JSON.stringify(value, (k, v) => (k === 'Item' || k === 'Keys' ? undefined : v)),
      );
    } else {
      out[field] = value instanceof Date ? value.toISOString() : value;
    }
  }
  return out;
}

/** The handler whose module is building a client: `lambdas/<name>/handler` on the stack. */
function handlerOnStack(): string | undefined {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 100;
  const stack = new Error().stack ?? '';
  Error.stackTraceLimit = limit;
  return /lambdas\/([a-z-]+)\/handler\.[tj]s/.exec(stack)?.[1];
}

/** The calls recorded so far, in order. */
export class CallRecorder {
  readonly calls: RecordedCall[] = [];
  /** Clients built outside any handler module (none expected). */
  readonly unattributed: string[] = [];

  /** Installs the observer: every client a handler builds from now on is recorded. */
  install(): this {
    (globalThis as { [CLIENT_OBSERVER]?: (client: unknown) => void })[CLIENT_OBSERVER] = (client) => {
      const handler = handlerOnStack();
      if (!handler) {
        this.unattributed.push(String((client as object).constructor?.name));
        return;
      }
      this.attach(handler, client);
    };
    return this;
  }

  /** Records the calls of `client` as `handler`'s. */
  attach<T>(handler: string, client: T): T {
    (client as unknown as MiddlewareClient).middlewareStack.add(
      (next, context) => async (args) => {
        this.calls.push({
          handler,
          service: (context.clientName ?? '').replace(/Client$/, ''),
          operation: (context.commandName ?? '').replace(/Command$/, ''),
          input: keep(args.input),
        });
        return next(args);
      },
      { step: 'initialize', name: 'countersignCallRecorder', priority: 'low' },
    );
    return client;
  }
}
