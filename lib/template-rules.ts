/**
 * Template rules at synth: the AWS Control Tower proactive controls, run by
 * cfn-guard through `@cdklabs/cdk-validator-cfnguard` as a CDK policy
 * validation plugin beside cdk-nag. A violation fails `cdk synth`. The
 * findings Countersign accepts are acknowledged here, each on the constructs
 * it applies to and with its reason; nothing is disabled for the whole app.
 */
import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import {
  type App,
  type IPolicyValidationContextBeta1,
  type IPolicyValidationPluginBeta1,
  type PolicyValidationPluginReportBeta1,
  Stack,
  Validations,
} from 'aws-cdk-lib';
import * as apigateway from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { IConstruct } from 'constructs';

/** Prefix of the plugin's rule ids in acknowledgements. */
const RULE = 'cdk-validator-cfnguard::';

/** One accepted finding: the rule, which constructs it applies to, and why. */
interface Acceptance {
  rule: string;
  applies: (c: IConstruct) => boolean;
  reason: string;
}

const isUrlPermission = (c: IConstruct) =>
  c instanceof lambda.CfnPermission &&
  (c.principal === '*' || c.functionUrlAuthType === 'NONE' || c.invokedViaFunctionUrl === true);

/** The findings Countersign accepts, with their reasons (docs/testing.md lists them). */
export const TEMPLATE_RULE_ACCEPTANCES: readonly Acceptance[] = [
  {
    rule: 'lambda_inside_vpc_check',
    applies: (c) => c instanceof lambda.CfnFunction,
    reason:
      'The handlers reach only public AWS endpoints and Slack; a VPC would add NAT gateways and endpoints without isolating anything they hold.',
  },
  {
    rule: 'lambda_function_url_auth_check',
    applies: (c) => c instanceof lambda.CfnUrl,
    reason:
      'Slack cannot sign requests with SigV4: the interaction URL is authenticated by the Slack signing secret (HMAC, ±300 s, replay guard) before anything is read.',
  },
  {
    rule: 'lambda_function_public_access_prohibited_check',
    applies: isUrlPermission,
    reason:
      'The Slack interaction Function URL must be reachable by Slack; its requests are authenticated by the Slack signature.',
  },
  {
    rule: 'lambda_function_public_access_prohibited_check',
    applies: (c) => c instanceof lambda.CfnPermission && c.principal === 'apigateway.amazonaws.com',
    reason:
      'The permission names this API’s stage and route in SourceArn (an Fn::Join, which the rule cannot read); the IAM proof evaluates it.',
  },
  {
    rule: 'cloudwatch_log_group_encrypted_check',
    applies: (c) => c instanceof logs.CfnLogGroup,
    reason:
      'CloudWatch Logs encrypts log data at rest with its service key; the logs hold operational events, not evidence or secrets (the audit trail is in the Object Lock bucket).',
  },
  {
    rule: 's3_bucket_default_encryption_kms_check',
    applies: (c) => c instanceof s3.CfnBucket && c.node.path.endsWith('/AccessLogs/Resource'),
    reason:
      'S3 server access log delivery requires SSE-S3 on its target bucket; the audit bucket itself uses SSE-KMS.',
  },
  {
    rule: 's3_bucket_versioning_enabled_check',
    applies: (c) => c instanceof s3.CfnBucket && c.node.path.endsWith('/AccessLogs/Resource'),
    reason:
      'The access-log bucket receives S3’s own delivery logs, written once and never overwritten; the audit bucket is versioned and under Object Lock.',
  },
  {
    rule: 'api_gw_v1_execution_logging_enabled_check',
    applies: (c) => c instanceof apigateway.CfnStage,
    reason:
      'The stage writes access logs; execution logging would need the account-wide API Gateway CloudWatch role, which Countersign does not take over (docs/deploy.md).',
  },
  {
    rule: 'cloudwatch_alarm_action_check',
    applies: (c) =>
      c instanceof cloudwatch.CfnAlarm &&
      ((Stack.of(c).resolve(c.alarmActions) as unknown[] | undefined) ?? []).length === 0,
    reason:
      'No alarmEmail is configured: the alarm shows in CloudWatch only. Set countersign:alarmEmail to be notified (README, Configure).',
  },
  {
    rule: 'sqs_dlq_check',
    applies: (c) => c instanceof sqs.CfnQueue && /DeadLetter/.test(c.node.path),
    reason:
      'This queue is itself a dead-letter queue (of a rule target, a schedule or the stream mapping): messages stay for inspection and redrive, and an alarm watches its depth.',
  },
  {
    rule: 's3_lifecycle_policy_check',
    applies: (c) => c instanceof s3.CfnBucket && c.objectLockEnabled === true,
    reason:
      'Audit objects are evidence under COMPLIANCE retention: no rule may expire them; removing them after retention is an operator decision (README, Clean-up).',
  },
  {
    rule: 's3_version_lifecycle_policy_check',
    applies: (c) => c instanceof s3.CfnBucket && c.objectLockEnabled === true,
    reason:
      'Every version of an audit object is evidence under COMPLIANCE retention; none may expire by rule.',
  },
  {
    rule: 's3_event_notifications_enabled_check',
    applies: (c) => c instanceof s3.CfnBucket,
    reason:
      'Nothing consumes object events: records reach the bucket from the table stream and are checked by the signed digests and `countersign audit verify`.',
  },
  {
    rule: 's3_bucket_object_lock_enabled_check',
    applies: (c) => c instanceof s3.CfnBucket && c.node.path.endsWith('/AccessLogs/Resource'),
    reason:
      'Server access logs are operational, not evidence; the audit bucket has Object Lock in COMPLIANCE mode.',
  },
  {
    rule: 's3_bucket_logging_enabled_check',
    applies: (c) => c instanceof s3.CfnBucket && c.node.path.endsWith('/AccessLogs/Resource'),
    reason: 'This is the access-log target bucket; logging it into itself would loop.',
  },
];

/**
 * The cfn-guard plugin with every violation marked an error. The plugin sets
 * no severity; once any finding of its report is acknowledged, CDK recomputes
 * the report's success from severities alone, and unacknowledged findings
 * would then pass synth.
 */
class StrictCfnGuard implements IPolicyValidationPluginBeta1 {
  readonly name: string;
  readonly version?: string;
  readonly ruleIds?: string[];
  private readonly guard = new CfnGuardValidator();

  constructor() {
    this.name = this.guard.name;
    this.version = this.guard.version;
    this.ruleIds = this.guard.ruleIds;
  }

  validate(context: IPolicyValidationContextBeta1): PolicyValidationPluginReportBeta1 {
    const report = this.guard.validate(context);
    return { ...report, violations: report.violations.map((v) => ({ severity: 'error', ...v })) };
  }
}

/** Adds the Control Tower rules (cfn-guard) to the app's synth-time validation. */
export function addTemplateRules(app: App): void {
  Validations.of(app).addPlugins(new StrictCfnGuard());
}

/** Acknowledges {@link TEMPLATE_RULE_ACCEPTANCES} on the constructs of `stack` they apply to. */
export function acknowledgeTemplateFindings(stack: Stack): void {
  for (const construct of stack.node.findAll()) {
    for (const acceptance of TEMPLATE_RULE_ACCEPTANCES) {
      if (acceptance.applies(construct))
        Validations.of(construct).acknowledge({ id: `${RULE}${acceptance.rule}`, reason: acceptance.reason });
    }
  }
}
