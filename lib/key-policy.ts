/**
 * Secure defaults shared by every customer-managed KMS key of the stack.
 */
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';

/**
 * Refuses `kms:CreateGrant` to every principal unless the grant is for an AWS
 * resource (DynamoDB, S3 and CloudWatch Logs create their own grants through
 * the key) or the caller is an AWS service. No Countersign role creates
 * grants, so this only closes a door (AWS Control Tower control CT.KMS.PR.3).
 */
export function limitGrantsToAwsServices<K extends kms.IKey>(key: K): K {
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'DenyGrantsExceptForAwsResources',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['kms:CreateGrant'],
      resources: ['*'],
      conditions: {
        BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' },
      },
    }),
  );
  return key;
}
