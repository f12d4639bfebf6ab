/**
 * Turns recorded SDK calls into the IAM requests AWS authorizes for them:
 * the action (service:Operation, or the action IAM names it by), the resource
 * ARN in the deployed naming, the condition keys known from the call, and the
 * requests AWS makes on the caller's behalf (KMS through S3 and DynamoDB,
 * iam:PassRole for a schedule's role, s3:PutObjectRetention for lock headers).
 */
import type { RecordedCall } from './recorder.js';
import { ACCOUNT, type DeployedStack, REGION } from './template.js';

/** One request IAM evaluates. */
export interface IamRequest {
  handler: string;
  /** The role the handler runs as (logical id). */
  roleLogicalId: string;
  action: string;
  resource: string;
  context: Record<string, string | string[]>;
  /** Why the request exists when the handler did not make it itself. */
  impliedBy?: string;
}

/** Maps the sandbox's local names (table, bucket, secret, key, ...) to the template's. */
export function localToDeployed(
  deployed: DeployedStack,
  localEnv: Record<string, string>,
): Map<string, string> {
  const names = new Map<string, string>();
  for (const handler of deployed.handlers.values()) {
    for (const [key, value] of Object.entries(handler.environment)) {
      const local = localEnv[key];
      if (local !== undefined && local !== value) names.set(local, value);
    }
  }
  return names;
}

const ms = (iso: string) => Date.parse(iso);

/** The KMS key ARN a resource's encryption names (first `KMSMasterKeyId` / `KMSMasterKeyID` / `KmsKeyId`). */
function encryptionKey(deployed: DeployedStack, logicalId: string): string | undefined {
  let found: unknown;
  const walk = (v: unknown) => {
    if (found || v === null || typeof v !== 'object') return;
    for (const [k, child] of Object.entries(v as Record<string, unknown>)) {
      if (/^(KMSMasterKeyI[dD]|KmsKeyId)$/.test(k)) found = child;
      else walk(child);
    }
  };
  walk(deployed.resources[logicalId]?.Properties);
  if (!found) return undefined;
  const key = String(deployed.resolve(found));
  return key.startsWith('arn:') ? key : `arn:aws:kms:${REGION}:${ACCOUNT}:key/${key}`;
}

/** The IAM requests behind one recorded call. */
export function requestsFor(
  deployed: DeployedStack,
  names: Map<string, string>,
  call: RecordedCall,
): IamRequest[] {
  const handler = deployed.handlers.get(call.handler);
  if (!handler) throw new Error(`handler ${call.handler} is not in the template`);
  const deployedName = (local: unknown, what: string) => {
    const name = names.get(String(local));
    if (!name)
      throw new Error(`${call.handler} ${call.operation}: no deployed ${what} for local "${String(local)}"`);
    return name;
  };
  const base = { handler: call.handler, roleLogicalId: handler.roleLogicalId };
  const common = { 'aws:SecureTransport': 'true', 'aws:PrincipalAccount': ACCOUNT };
  const out: IamRequest[] = [];
  const input = call.input;
  switch (call.service) {
    case 'DynamoDB': {
      const table = deployedName(input.TableName, 'table');
      const tableId = [
        ...deployed.ofType('AWS::DynamoDB::Table'),
        ...deployed.ofType('AWS::DynamoDB::GlobalTable'),
      ].find((id) => deployed.ref(id) === table);
      const tableArn = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${table}`;
      const resource = input.IndexName ? `${tableArn}/index/${String(input.IndexName)}` : tableArn;
      // The partition key every item the call names: what `dynamodb:LeadingKeys` conditions see.
      const keys = dynamoLeadingKeys(input);
      const context = keys.length ? { ...common, 'dynamodb:LeadingKeys': keys } : common;
      out.push({ ...base, action: `dynamodb:${call.operation}`, resource, context });
      const key = tableId && encryptionKey(deployed, tableId);
      if (key)
        out.push({
          ...base,
          action: 'kms:Decrypt',
          resource: key,
          context: {
            ...common,
            'kms:ViaService': `dynamodb.${REGION}.amazonaws.com`,
            'kms:CallerAccount': ACCOUNT,
          },
          impliedBy: `dynamodb:${call.operation} on a table encrypted with a customer-managed key`,
        });
      break;
    }
    case 'S3': {
      const bucket = deployedName(input.Bucket, 'bucket');
      const bucketId = deployed.ofType('AWS::S3::Bucket').find((id) => deployed.ref(id) === bucket);
      const key = bucketId && encryptionKey(deployed, bucketId);
      const kmsContext = {
        ...common,
        'kms:ViaService': `s3.${REGION}.amazonaws.com`,
        'kms:CallerAccount': ACCOUNT,
        'kms:EncryptionContext:aws:s3:arn': `arn:aws:s3:::${bucket}`,
      };
      const object = `arn:aws:s3:::${bucket}/${String(input.Key)}`;
      if (call.operation === 'PutObject') {
        const lock: Record<string, string> = {};
        if (input.ObjectLockMode) lock['s3:object-lock-mode'] = String(input.ObjectLockMode);
        if (input.ObjectLockRetainUntilDate) {
          const until = String(input.ObjectLockRetainUntilDate);
          lock['s3:object-lock-retain-until-date'] = until;
          lock['s3:object-lock-remaining-retention-days'] = String(
            Math.ceil((ms(until) - Date.now()) / 86_400_000),
          );
        }
        if (input.ObjectLockLegalHoldStatus)
          lock['s3:object-lock-legal-hold'] = String(input.ObjectLockLegalHoldStatus);
        out.push({ ...base, action: 's3:PutObject', resource: object, context: { ...common, ...lock } });
        if (input.ObjectLockMode || input.ObjectLockRetainUntilDate)
          out.push({
            ...base,
            action: 's3:PutObjectRetention',
            resource: object,
            context: { ...common, ...lock },
            impliedBy: 'PutObject with Object Lock retention headers',
          });
        if (input.ObjectLockLegalHoldStatus)
          out.push({
            ...base,
            action: 's3:PutObjectLegalHold',
            resource: object,
            context: { ...common, ...lock },
            impliedBy: 'PutObject with a legal-hold header',
          });
        if (key)
          out.push({
            ...base,
            action: 'kms:GenerateDataKey',
            resource: key,
            context: kmsContext,
            impliedBy: 'PutObject to an SSE-KMS bucket',
          });
      } else if (call.operation === 'GetObject' || call.operation === 'HeadObject') {
        out.push({ ...base, action: 's3:GetObject', resource: object, context: common });
        if (key)
          out.push({
            ...base,
            action: 'kms:Decrypt',
            resource: key,
            context: kmsContext,
            impliedBy: `${call.operation} of an SSE-KMS object`,
          });
      } else if (call.operation === 'ListObjectsV2' || call.operation === 'ListObjects') {
        out.push({
          ...base,
          action: 's3:ListBucket',
          resource: `arn:aws:s3:::${bucket}`,
          context: { ...common, ...(input.Prefix ? { 's3:prefix': String(input.Prefix) } : {}) },
        });
      } else {
        out.push({ ...base, action: `s3:${call.operation}`, resource: object, context: common });
      }
      break;
    }
    case 'SecretsManager': {
      const secret = deployedName(input.SecretId, 'secret');
      out.push({
        ...base,
        action: `secretsmanager:${call.operation}`,
        resource: secret,
        context: { ...common, 'secretsmanager:SecretId': secret },
      });
      const secretId = deployed
        .ofType('AWS::SecretsManager::Secret')
        .find((id) => deployed.ref(id) === secret);
      const key = secretId && encryptionKey(deployed, secretId);
      if (key)
        out.push({
          ...base,
          action: 'kms:Decrypt',
          resource: key,
          context: {
            ...common,
            'kms:ViaService': `secretsmanager.${REGION}.amazonaws.com`,
            'kms:CallerAccount': ACCOUNT,
          },
          impliedBy: 'GetSecretValue of a secret encrypted with a customer-managed key',
        });
      break;
    }
    case 'SFN': {
      // The task token belongs to an execution of the one workflow: AWS authorizes
      // SendTask* against that state machine's ARN (its AccessDenied names it).
      const machine = deployed.ref(deployed.only('AWS::StepFunctions::StateMachine'));
      out.push({ ...base, action: `states:${call.operation}`, resource: machine, context: common });
      break;
    }
    case 'Scheduler': {
      const group = deployedName(input.GroupName, 'schedule group');
      out.push({
        ...base,
        action: `scheduler:${call.operation}`,
        resource: `arn:aws:scheduler:${REGION}:${ACCOUNT}:schedule/${group}/${String(input.Name)}`,
        context: common,
      });
      const target = input.Target as { Arn?: string; RoleArn?: string } | undefined;
      if (target?.Arn) deployedName(target.Arn, 'schedule target');
      if (target?.RoleArn)
        out.push({
          ...base,
          action: 'iam:PassRole',
          resource: deployedName(target.RoleArn, 'scheduler role'),
          context: { ...common, 'iam:PassedToService': 'scheduler.amazonaws.com' },
          impliedBy: 'CreateSchedule with a target role',
        });
      break;
    }
    case 'KMS': {
      const keyName = deployedName(input.KeyId, 'key');
      const resource = keyName.startsWith('arn:')
        ? keyName
        : `arn:aws:kms:${REGION}:${ACCOUNT}:key/${keyName}`;
      out.push({
        ...base,
        action: `kms:${call.operation}`,
        resource,
        context: {
          ...common,
          'kms:CallerAccount': ACCOUNT,
          ...(input.SigningAlgorithm ? { 'kms:SigningAlgorithm': String(input.SigningAlgorithm) } : {}),
          ...(call.operation === 'Sign' ? { 'kms:MessageType': 'DIGEST' } : {}),
        },
      });
      break;
    }
    default:
      throw new Error(`${call.handler}: no IAM mapping for ${call.service}:${call.operation}; add one`);
  }
  return out;
}

/** The partition keys a DynamoDB call names (Key, Item, or a Query's `:pk`-style equality), for `dynamodb:LeadingKeys`. */
function dynamoLeadingKeys(input: Record<string, unknown>): string[] {
  const pkOf = (item: unknown): string | undefined => {
    const pk = (item as { pk?: unknown } | undefined)?.pk;
    if (typeof pk === 'string') return pk;
    const attr = (pk as { S?: unknown } | undefined)?.S;
    return typeof attr === 'string' ? attr : undefined;
  };
  const pk = pkOf(input.Key) ?? pkOf(input.Item);
  return pk ? [pk] : [];
}
