/**
 * The audit store: the DynamoDB table that holds requests and audit records
 * (for queries), and the S3 bucket that holds one object per audit record under
 * Object Lock COMPLIANCE retention (for proof). Each has its own
 * customer-managed KMS key.
 *
 * Handlers append audit records to the table only; the table's stream (new
 * images) feeds the archiver (audit-archiver.ts), the one role that puts
 * record objects. Object writers may put objects and set their retention
 * (COMPLIANCE retention can only ever be extended); no role is granted a
 * delete, and the bucket policy denies deletes and retention bypass to every
 * principal, so even an administrator must first change the bucket policy,
 * which is itself logged.
 */
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { AUDIT_HOUR_INDEX, RECORDS_PREFIX } from '../lambdas/shared/audit-record.js';
import { REQUEST_STATUS_INDEX } from '../lambdas/shared/store.js';
import type { Binding } from './handler-function.js';
import { limitGrantsToAwsServices } from './key-policy.js';

/** The GSI that lists audit records by hour, and the key prefix of record objects: the handlers' own names. */
export { AUDIT_HOUR_INDEX, RECORDS_PREFIX };
/** Key prefix of signed digest objects. */
export const DIGESTS_PREFIX = 'digests/';

/**
 * Item-level DynamoDB actions a reader needs: the calls the handlers make
 * (test/infra/iam-proof.test.ts records them). No BatchGetItem, DescribeTable or Scan.
 */
const TABLE_READ_ACTIONS = ['dynamodb:GetItem', 'dynamodb:Query'];
/**
 * Item-level DynamoDB actions a writer needs: conditional single-item writes.
 * No DeleteItem, BatchWriteItem (which can delete), transactions or Scan: the
 * store is append/update only.
 */
/** Partition-key prefix of the card queue's items (lambdas/shared/card-queue.ts). */
export const CARD_QUEUE_KEY_PREFIX = 'CARDQUEUE#';
const TABLE_WRITE_ACTIONS = ['dynamodb:PutItem', 'dynamodb:UpdateItem'];
/** Object actions that remove evidence; denied to everyone by the bucket policy. */
export const DENIED_OBJECT_ACTIONS = [
  's3:DeleteObject',
  's3:DeleteObjectVersion',
  's3:DeleteObjectTagging',
  's3:DeleteObjectVersionTagging',
  's3:BypassGovernanceRetention',
];

/** Properties of an {@link AuditStore}. */
export interface AuditStoreProps {
  /**
   * Default Object Lock COMPLIANCE retention of audit objects, in days. Writers
   * also set it explicitly per object (`COUNTERSIGN_AUDIT_RETENTION_DAYS`).
   * @default 365
   */
  readonly retentionDays?: number;
  /**
   * Whether writers place an Object Lock legal hold on every audit object (and
   * get `COUNTERSIGN_AUDIT_LEGAL_HOLD=ON` and `s3:PutObjectLegalHold`).
   * @default false
   */
  readonly legalHold?: boolean;
  /**
   * How long S3 server access logs of the audit bucket are kept.
   * @default Duration.days(365)
   */
  readonly accessLogExpiration?: Duration;
}

/** The request/audit table and the Object Lock audit bucket. */
export class AuditStore extends Construct {
  /** Requests, audit records and Slack replay guards (`pk`/`sk`, GSIs `byAuditHour` and `byStatus`, TTL `ttl`). */
  public readonly table: dynamodb.TableV2;
  /** Customer-managed key of the table. */
  public readonly tableKey: kms.IKey;
  /** Object Lock (COMPLIANCE) bucket with one object per audit record and the signed digests. */
  public readonly bucket: s3.Bucket;
  /** Customer-managed key of the audit bucket. */
  public readonly bucketKey: kms.IKey;
  /** Server access logs of the audit bucket. */
  public readonly accessLogsBucket: s3.Bucket;
  /** COMPLIANCE retention in days. */
  public readonly retentionDays: number;
  /** Whether writers place legal holds. */
  public readonly legalHold: boolean;

  constructor(scope: Construct, id: string, props: AuditStoreProps = {}) {
    super(scope, id);
    this.retentionDays = props.retentionDays ?? 365;
    this.legalHold = props.legalHold ?? false;
    if (!Number.isInteger(this.retentionDays) || this.retentionDays < 1) {
      throw new Error(`AuditStore retentionDays must be a positive integer, got ${this.retentionDays}`);
    }

    this.tableKey = new kms.Key(this, 'TableKey', {
      description: 'Countersign request and audit table',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    limitGrantsToAwsServices(this.tableKey);
    this.table = new dynamodb.TableV2(this, 'Table', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      billing: dynamodb.Billing.onDemand(),
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: true,
      encryption: dynamodb.TableEncryptionV2.customerManagedKey(this.tableKey),
      timeToLiveAttribute: 'ttl',
      // New images feed the audit archiver.
      dynamoStream: dynamodb.StreamViewType.NEW_IMAGE,
      globalSecondaryIndexes: [
        {
          indexName: AUDIT_HOUR_INDEX,
          partitionKey: { name: 'auditHour', type: dynamodb.AttributeType.STRING },
          sortKey: { name: 'auditSort', type: dynamodb.AttributeType.STRING },
          projectionType: dynamodb.ProjectionType.ALL,
        },
        {
          // Lists requests by status, newest first (the sandbox console, an operator's
          // "what is pending"): keys only, so the task token is never copied into it.
          indexName: REQUEST_STATUS_INDEX,
          partitionKey: { name: 'status', type: dynamodb.AttributeType.STRING },
          sortKey: { name: 'createdAt', type: dynamodb.AttributeType.STRING },
          projectionType: dynamodb.ProjectionType.KEYS_ONLY,
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.accessLogsBucket = new s3.Bucket(this, 'AccessLogs', {
      // Server access log delivery supports SSE-S3 only.
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      lifecycleRules: [{ expiration: props.accessLogExpiration ?? Duration.days(365) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.accessLogsBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'This is the server access log bucket of the audit bucket; logging it to itself would loop and logging it elsewhere would need a third bucket with the same finding.',
    });

    this.bucketKey = new kms.Key(this, 'BucketKey', {
      description: 'Countersign audit bucket (Object Lock)',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    limitGrantsToAwsServices(this.bucketKey);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      objectLockEnabled: true,
      objectLockDefaultRetention: s3.ObjectLockRetention.compliance(Duration.days(this.retentionDays)),
      versioned: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.bucketKey,
      bucketKeyEnabled: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'audit-bucket/',
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // Append-only, for everyone: nothing can delete a record version or a
    // delete marker over it, nor bypass retention.
    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'DenyAuditDeletion',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: DENIED_OBJECT_ACTIONS,
        resources: [this.bucket.arnForObjects('*')],
      }),
    );
    // Every audit object is locked in COMPLIANCE mode; a GOVERNANCE retention
    // (which s3:BypassGovernanceRetention could later shorten) is refused to all.
    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'DenyGovernanceRetention',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['s3:PutObjectRetention'],
        resources: [this.bucket.arnForObjects('*')],
        conditions: { StringNotEquals: { 's3:object-lock-mode': 'COMPLIANCE' } },
      }),
    );
    // A legal hold, once placed, can be lifted only by changing this policy first.
    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'DenyLiftingLegalHold',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['s3:PutObjectLegalHold'],
        resources: [this.bucket.arnForObjects('*')],
        conditions: { StringNotEquals: { 's3:object-lock-legal-hold': 'ON' } },
      }),
    );
  }

  /** Environment of a table user: `COUNTERSIGN_TABLE_NAME`. */
  public get tableEnvironment(): Record<string, string> {
    return { COUNTERSIGN_TABLE_NAME: this.table.tableName };
  }

  /** Environment of an object writer: the bucket, its retention days and the legal-hold switch. */
  public get objectLockEnvironment(): Record<string, string> {
    return {
      COUNTERSIGN_AUDIT_BUCKET: this.bucket.bucketName,
      COUNTERSIGN_AUDIT_RETENTION_DAYS: String(this.retentionDays),
      ...(this.legalHold ? { COUNTERSIGN_AUDIT_LEGAL_HOLD: 'ON' } : {}),
    };
  }

  /** Item reads on the table (no Scan; the `byAuditHour` index is the digest signer's alone). */
  public grantTableRead(grantee: iam.IGrantable): void {
    this.addToPolicy(grantee, TABLE_READ_ACTIONS, [this.table.tableArn]);
    this.grantTableKey(grantee);
  }

  /** GetItem only, on the table (no index, no Query): for readers of single requests and grants. */
  public grantItemRead(grantee: iam.IGrantable): void {
    this.addToPolicy(grantee, ['dynamodb:GetItem'], [this.table.tableArn]);
    this.grantTableKey(grantee);
  }

  /** Item reads plus conditional single-item writes on the table (no deletes). */
  public grantTableReadWrite(grantee: iam.IGrantable): void {
    this.grantTableRead(grantee);
    this.addToPolicy(grantee, TABLE_WRITE_ACTIONS, [this.table.tableArn]);
  }

  /**
   * Lets a grantee append audit objects under `prefix`: s3:PutObject and
   * s3:PutObjectRetention (to set ObjectLockRetainUntilDate), plus
   * s3:PutObjectLegalHold when legal hold is on, and the bucket key's
   * GenerateDataKey through S3 (all an SSE-KMS PutObject needs). Never delete, bypass retention or change
   * the bucket's lock configuration.
   */
  public grantObjectWrite(grantee: iam.IGrantable, prefix: string = RECORDS_PREFIX): void {
    const actions = ['s3:PutObject', 's3:PutObjectRetention'];
    if (this.legalHold) actions.push('s3:PutObjectLegalHold');
    this.addToPolicy(grantee, actions, [this.bucket.arnForObjects(`${prefix}*`)]);
    this.acknowledgePrefixWildcard(grantee, prefix);
    this.addToPolicy(grantee, ['kms:GenerateDataKey'], [this.bucketKey.keyArn], {
      StringEquals: { 'kms:ViaService': `s3.${Stack.of(this).region}.amazonaws.com` },
    });
  }

  /**
   * Lets a grantee read objects under `prefix` (decrypting through S3 only) and
   * list the bucket. ListBucket is not narrowed by `s3:prefix`: without it S3
   * answers a GetObject of a missing key with 403 instead of 404, and the
   * digest handler probes for digests that may not exist yet. Listing shows
   * keys, never contents.
   */
  public grantObjectRead(grantee: iam.IGrantable, prefix: string): void {
    this.addToPolicy(grantee, ['s3:GetObject'], [this.bucket.arnForObjects(`${prefix}*`)]);
    this.acknowledgePrefixWildcard(grantee, prefix);
    this.addToPolicy(grantee, ['s3:ListBucket'], [this.bucket.bucketArn]);
    this.addToPolicy(grantee, ['kms:Decrypt'], [this.bucketKey.keyArn], {
      StringEquals: { 'kms:ViaService': `s3.${Stack.of(this).region}.amazonaws.com` },
    });
  }

  /**
   * Grants an audit writer (the workflow tasks, the interaction, cancel,
   * reminder and grant handlers): table read/write. Records reach S3 through
   * the archiver, so writers hold no S3 permission at all.
   */
  public grantAuditWrite(grantee: iam.IGrantable): void {
    this.grantTableReadWrite(grantee);
  }

  /**
   * Grants the archiver: putting record objects under `records/`, and reading
   * them back (HeadObject, to confirm a redelivered record's checksum). It
   * holds no table permission beyond reading the stream, which its event
   * source grants.
   */
  public grantArchiveWrite(grantee: iam.IGrantable): void {
    this.grantObjectWrite(grantee, RECORDS_PREFIX);
    this.grantObjectRead(grantee, RECORDS_PREFIX);
  }

  /**
   * Grants the digest signer: listing records through `byAuditHour` (Query on
   * that index only: the witness cannot write the rows it signs), reading
   * earlier digests and appending new ones under `digests/`. It never reads or
   * writes `records/`.
   */
  public grantDigestWrite(grantee: iam.IGrantable): void {
    this.addToPolicy(grantee, ['dynamodb:Query'], [`${this.table.tableArn}/index/${AUDIT_HOUR_INDEX}`]);
    this.addToPolicy(grantee, ['kms:Decrypt', 'kms:DescribeKey'], [this.tableKey.keyArn], {
      StringEquals: { 'kms:ViaService': `dynamodb.${Stack.of(this).region}.amazonaws.com` },
    });
    this.grantObjectWrite(grantee, DIGESTS_PREFIX);
    this.grantObjectRead(grantee, DIGESTS_PREFIX);
  }

  /**
   * Lets a grantee remove entries of the card queue (`dynamodb:DeleteItem`),
   * and nothing else: every key it names must start with `CARDQUEUE#`
   * (`dynamodb:LeadingKeys`), so requests, grants and audit rows stay
   * undeletable. The poster removes what it posted or skipped; Record removes a
   * request decided while its card still waited.
   */
  public grantCardQueueRemoval(grantee: iam.IGrantable): void {
    this.addToPolicy(grantee, ['dynamodb:DeleteItem'], [this.table.tableArn], {
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${CARD_QUEUE_KEY_PREFIX}*`] },
    });
  }

  /** Binding for a card-queue remover: the table's name plus {@link grantCardQueueRemoval}. */
  public cardQueueRemover(): Binding {
    return { environment: this.tableEnvironment, grant: (g) => this.grantCardQueueRemoval(g) };
  }

  /** Binding for an audit writer: the table's name plus {@link grantAuditWrite}. */
  public auditWriter(): Binding {
    return { environment: this.tableEnvironment, grant: (g) => this.grantAuditWrite(g) };
  }

  /** Binding for the archiver: the bucket and its lock settings plus {@link grantArchiveWrite}. */
  public archiveWriter(): Binding {
    return { environment: this.objectLockEnvironment, grant: (g) => this.grantArchiveWrite(g) };
  }

  /** Binding for the digest signer: table name, bucket and lock settings plus {@link grantDigestWrite}. */
  public digestWriter(): Binding {
    return {
      environment: { ...this.tableEnvironment, ...this.objectLockEnvironment },
      grant: (g) => this.grantDigestWrite(g),
    };
  }

  /** DynamoDB calls the table key on the caller's behalf; only through DynamoDB. */
  private grantTableKey(grantee: iam.IGrantable): void {
    this.addToPolicy(
      grantee,
      ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'],
      [this.tableKey.keyArn],
      { StringEquals: { 'kms:ViaService': `dynamodb.${Stack.of(this).region}.amazonaws.com` } },
    );
  }

  /** Object grants are scoped to a key prefix, which IAM can express only with a trailing wildcard. */
  private acknowledgePrefixWildcard(grantee: iam.IGrantable, prefix: string): void {
    const principal = grantee.grantPrincipal;
    if (!Construct.isConstruct(principal)) return;
    const bucketId = Stack.of(this).getLogicalId(this.bucket.node.defaultChild as s3.CfnBucket);
    Validations.of(principal).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${prefix}*]`,
      reason: `Object access is limited to the audit bucket's ${prefix} key prefix; object keys are per request and record, so the prefix needs a trailing wildcard.`,
    });
  }

  private addToPolicy(
    grantee: iam.IGrantable,
    actions: string[],
    resources: string[],
    conditions?: Record<string, Record<string, unknown>>,
  ): void {
    iam.Grant.addToPrincipal({
      grantee,
      actions,
      resourceArns: resources,
      ...(conditions ? { conditions } : {}),
    });
  }
}
