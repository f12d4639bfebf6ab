/**
 * The review core over dynalite and the fake Step Functions task API, for the
 * test files that drive it through the test channel: started once per file,
 * with seeding, reading back, and a way to land a second writer between a
 * command's checks and its conditional write.
 *
 * That second writer is real: {@link HarnessCore.writingBetween} hands out a
 * document client on the same dynalite that, just before it sends the first
 * UpdateItem of a given kind, runs another command (or store write) to the end.
 * The command under test then meets, in its conditional write, what a
 * concurrent command would have left there, without any answer being made up.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ReviewCoreDeps } from '../../lambdas/review-core/contract.js';
import { readChain } from '../../lambdas/shared/audit.js';
import type { AuditRecord } from '../../lambdas/shared/audit-record.js';
import { getRequest, type RequestItem } from '../../lambdas/shared/store.js';
import { type RunningFakeAws, startFakeAws } from '../../sandbox/fake-aws.js';
import { captureLogger } from '../interaction/harness.js';
import { type SeedOptions, seedPendingRequest } from '../support/fixtures.js';
import { LOCAL_CREDENTIALS, LOCAL_REGION, type LocalAws, startLocalAws } from '../support/local-aws.js';

/** What a test file drives the core with. */
export interface HarnessCore {
  aws: LocalAws;
  fakeAws: RunningFakeAws;
  logger: ReturnType<typeof captureLogger>;
  /** The core's dependencies but the channel's (resolver, notifier). */
  base: Omit<ReviewCoreDeps, 'resolveActor' | 'notifier'>;
  /** A pending request with its task registered. */
  seed(options?: SeedOptions): Promise<RequestItem>;
  /** The request as stored now (undefined when there is none). */
  stored(id: string): Promise<RequestItem | undefined>;
  chainOf(id: string): Promise<AuditRecord[]>;
  /**
   * A document client on the same table that runs `between` to the end just
   * before it sends the first UpdateItem whose update expression starts with
   * `update`; every other call passes through untouched.
   */
  writingBetween(update: string, between: () => Promise<unknown>): DynamoDBDocumentClient;
  close(): Promise<void>;
}

export async function startCore(): Promise<HarnessCore> {
  const aws = await startLocalAws();
  const fakeAws = await startFakeAws();
  const sfn = new SFNClient({ endpoint: fakeAws.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const logger = captureLogger();
  const store = { ddb: aws.ddb, table: aws.table };
  const clients: DynamoDBDocumentClient[] = [];
  return {
    aws,
    fakeAws,
    logger,
    base: { ...store, sfn, logger, now: () => new Date() },
    async seed(options = {}) {
      const request = await seedPendingRequest({ ...store, now: () => new Date() }, options);
      fakeAws.tasks.register(request.taskToken!);
      return request;
    },
    stored: (id) => getRequest(store, id),
    chainOf: (id) => readChain(store, id),
    writingBetween(update, between) {
      const raw = new DynamoDBClient({
        endpoint: aws.endpoints.dynamodb,
        region: LOCAL_REGION,
        credentials: LOCAL_CREDENTIALS,
      });
      const ddb = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
      let done = false;
      ddb.middlewareStack.add(
        (next) => async (args) => {
          const expression = (args.input as { UpdateExpression?: unknown }).UpdateExpression;
          if (!done && typeof expression === 'string' && expression.startsWith(update)) {
            done = true;
            await between();
          }
          return next(args);
        },
        { step: 'initialize', name: 'writeBetweenCheckAndWrite' },
      );
      clients.push(ddb);
      return ddb;
    },
    async close() {
      for (const client of clients) client.destroy();
      sfn.destroy();
      await fakeAws.close();
      await aws.close();
    },
  };
}
