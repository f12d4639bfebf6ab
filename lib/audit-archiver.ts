/**
 * The audit archiver: the archive handler reads the table's stream (new audit
 * rows only, by an event filter) and puts each record in the Object Lock
 * bucket. Writers append to DynamoDB only, so a record is archived exactly
 * when it exists: a failing put is retried from the stream, bisected to the
 * record at fault, and finally sent to an alarmed dead-letter queue; the row
 * stays in the table, and `countersign audit verify` names it as missing until
 * it is archived.
 */
import { Duration } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sources from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { AuditStore } from './audit-store.js';
import { alarmedDeadLetterQueue } from './dead-letter-queue.js';
import { HandlerFunction } from './handler-function.js';

/** Properties of an {@link AuditArchiver}. */
export interface AuditArchiverProps {
  /** The store whose table stream is archived into its bucket. */
  readonly store: AuditStore;
  /**
   * Retries of a failing batch before it goes to the dead-letter queue. The
   * stream keeps records for 24 hours.
   * @default 100
   */
  readonly retryAttempts?: number;
  /**
   * Actions of the dead-letter alarm.
   * @default - none
   */
  readonly alarmActions?: cloudwatch.IAlarmAction[];
}

/** Stream records the archive handler is given: inserts of audit rows (`sk` = `AUDIT#…`). */
export const ARCHIVE_FILTER = {
  eventName: lambda.FilterRule.isEqual('INSERT'),
  dynamodb: { NewImage: { sk: { S: lambda.FilterRule.beginsWith('AUDIT#') } } },
};

/** The archive handler and its stream subscription. */
export class AuditArchiver extends Construct {
  /** The archive handler (`lambdas/archive/handler.ts`). */
  public readonly handler: HandlerFunction;
  /** Batches that could not be archived after every retry (stream positions, not the records). */
  public readonly deadLetterQueue: sqs.Queue;
  /** In alarm while the dead-letter queue holds anything. */
  public readonly deadLetterAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: AuditArchiverProps) {
    super(scope, id);
    ({ queue: this.deadLetterQueue, alarm: this.deadLetterAlarm } = alarmedDeadLetterQueue(
      this,
      'the audit archive stream',
      'Countersign audit records could not be archived to the Object Lock bucket: the rows are in DynamoDB, the objects are missing',
      props.alarmActions,
    ));
    this.handler = new HandlerFunction(this, 'ArchiveFunction', {
      name: 'archive',
      description: 'Countersign audit archive: put each new audit record in the Object Lock bucket',
      memorySize: 256,
    });
    this.handler.bind(props.store.archiveWriter());
    this.handler.addEventSource(
      new sources.DynamoEventSource(props.store.table, {
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        batchSize: 100,
        maxBatchingWindow: Duration.seconds(1),
        bisectBatchOnError: true,
        reportBatchItemFailures: true,
        retryAttempts: props.retryAttempts ?? 100,
        onFailure: new sources.SqsDlq(this.deadLetterQueue),
        filters: [lambda.FilterCriteria.filter(ARCHIVE_FILTER)],
      }),
    );
  }
}
