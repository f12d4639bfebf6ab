/**
 * The Countersign stack. It only wires the constructs of `lib/` together;
 * each construct owns one concern and its secure defaults.
 */
import * as path from 'node:path';
import { CfnOutput, Fn, Stack, type StackProps, Token } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { RUBBER_STAMP_ENV } from '../lambdas/shared/metrics.js';
import { type AgentOptions, AgentRegistry } from './agent-registry.js';
import { AlarmNotifications } from './alarm-notifications.js';
import { ApprovalWorkflow } from './approval-workflow.js';
import { AuditArchiver } from './audit-archiver.js';
import { AuditDigest } from './audit-digest.js';
import { AuditStore } from './audit-store.js';
import { CardPoster } from './card-poster.js';
import type { CountersignConfig } from './config.js';
import { type ExecutorOptions, Executors, loadCatalog } from './executors.js';
import { HandlerFunction, REPO_ROOT, settings } from './handler-function.js';
import { identityProviderReader, webInboxLink } from './identity-provider.js';
import { CancelRoute, IntentBus, IntentRoute } from './intent-bus.js';
import { OperationsMonitoring, scheduleInterval } from './operations-monitoring.js';
import { buildPolicyBundle, type PolicyBundle } from './policy-bundle.js';
import { SlackEndpoint } from './slack-endpoint.js';
import { StatusApi } from './status-api.js';
import { TeamsEndpoint } from './teams-endpoint.js';
import { TraceExport } from './trace-export.js';
import { UnapprovedActionDetector } from './unapproved-action-detector.js';
import { clientSecretReader, WebInbox } from './web-inbox.js';

/** Properties of a {@link CountersignStack}. */
export interface CountersignStackProps extends StackProps {
  /** The validated deployment configuration. */
  readonly config: CountersignConfig;
  /**
   * The policy bundle compiled into the Evaluate and Interaction handlers.
   * @default - buildPolicyBundle() of `config.policyDir`
   */
  readonly policyBundle?: PolicyBundle;
}

/** Countersign: intent bus, approval workflow, Slack endpoint, audit store and digests. */
export class CountersignStack extends Stack {
  /** Bus, publish grants and decision-source protection. */
  public readonly intentBus: IntentBus;
  /** Intent rule with retries, dead-letter queue and alarm. */
  public readonly intentRoute: IntentRoute;
  /** Cancellation rule and its handler. */
  public readonly cancelRoute: CancelRoute;
  /** DynamoDB table and Object Lock bucket. */
  public readonly auditStore: AuditStore;
  /** Archives every audit record from the table's stream into the Object Lock bucket. */
  public readonly auditArchiver: AuditArchiver;
  /** Slack secret and interaction handler. */
  public readonly slackEndpoint: SlackEndpoint;
  /** The Step Functions workflow. */
  public readonly workflow: ApprovalWorkflow;
  /** Signed audit digests. */
  public readonly auditDigest: AuditDigest;
  /** The policy bundle the handlers were built with. */
  public readonly policyBundle: PolicyBundle;
  /** The agents' status and grant API (IAM auth). */
  public readonly statusApi: StatusApi;
  /** The topic every alarm notifies. */
  public readonly alarms: AlarmNotifications;
  /** Registered agents (owner, environments), read by Evaluate and the interaction handler. */
  public readonly agents: AgentRegistry;
  /** The web inbox and approval API; present when an identity provider is configured. */
  public readonly webInbox?: WebInbox;
  /** Executor roles and the enforcement catalog (policies/enforcement.json). */
  public readonly executors: Executors;
  /** CloudTrail rule and detector of unapproved privileged actions. */
  public readonly detector: UnapprovedActionDetector;
  /** The Teams bot's messaging endpoint and secret, when `teams` is configured. */
  public readonly teamsEndpoint?: TeamsEndpoint;
  /** Posts review cards from the per-channel card queue at Slack's pace. */
  public readonly cardPoster: CardPoster;
  /** The operations dashboard and the cross-cutting alarms. */
  public readonly monitoring: OperationsMonitoring;

  constructor(scope: Construct, id: string, props: CountersignStackProps) {
    super(scope, id, props);
    if (Token.isUnresolved(this.region)) {
      // The table's customer-managed key is rendered per replica region.
      throw new Error(
        'CountersignStack needs a region: pass env.region (the CDK CLI sets CDK_DEFAULT_REGION from your AWS config)',
      );
    }
    const { config } = props;
    // Validated here, at synth: a policy that does not parse or validate fails the synth, naming file:line.
    this.policyBundle = props.policyBundle ?? buildPolicyBundle(path.resolve(REPO_ROOT, config.policyDir));
    this.alarms = new AlarmNotifications(this, 'Alarms', {
      ...(config.alarmEmail ? { email: config.alarmEmail } : {}),
    });
    const alarmActions = [this.alarms.action];

    this.auditStore = new AuditStore(this, 'AuditStore', {
      retentionDays: config.auditRetentionDays,
      legalHold: config.auditLegalHold,
    });
    this.auditArchiver = new AuditArchiver(this, 'AuditArchiver', { store: this.auditStore, alarmActions });
    this.intentBus = new IntentBus(this, 'IntentBus', { eventBusName: config.eventBusName });
    this.slackEndpoint = new SlackEndpoint(this, 'SlackEndpoint', {
      auditWriter: this.auditStore.auditWriter(),
      approverGroupHandle: config.approverGroupHandle,
      policyBundle: this.policyBundle,
      ...(config.interactionReservedConcurrency !== undefined
        ? { reservedConcurrency: config.interactionReservedConcurrency }
        : {}),
    });
    this.workflow = new ApprovalWorkflow(this, 'ApprovalWorkflow', {
      eventBus: this.intentBus.eventBus,
      auditWriter: this.auditStore.auditWriter(),
      slackSecretReader: this.slackEndpoint.secretReader(),
      slackChannelId: config.slackChannelId,
      approverGroupHandle: config.approverGroupHandle,
      defaultReviewTimeoutSeconds: config.defaultReviewTimeoutSeconds,
      defaultRateLimit: config.defaultRateLimit,
      policyBundle: this.policyBundle,
      alarmActions,
      logKey: this.alarms.key,
    });
    this.cardPoster = new CardPoster(this, 'CardPoster', {
      auditWriter: this.auditStore.auditWriter(),
      slackSecretReader: this.slackEndpoint.secretReader(),
      slackChannelId: config.slackChannelId,
      ratePerSecond: config.cardRatePerSecond,
      burst: config.cardBurst,
      backlogThreshold: config.cardBacklogThreshold,
      alarmActions,
    });
    this.cardPoster.allowReviewFailures(this.workflow.stateMachine);
    // Review kicks the poster after queueing a card; Record after a decided card left the queue; the
    // interaction handler after handing it a card update Slack rate-limited.
    for (const fn of [this.workflow.reviewFunction, this.workflow.recordFunction, this.slackEndpoint.handler])
      fn.bind(this.cardPoster.kicking());
    // The poster removes what it posted or skipped; Record removes a request decided while queued.
    const queueRemover = this.auditStore.cardQueueRemover();
    this.cardPoster.posterFunction.bind(queueRemover);
    this.workflow.recordFunction.bind(queueRemover);
    this.agents = new AgentRegistry(config.environments, config.emailIdentity);
    // Evaluate binds owner and environment; the interaction handler compares emails by the same rules.
    this.workflow.evaluateFunction.bind(this.agents.reader());
    this.slackEndpoint.handler.bind(this.agents.selfReader());
    this.slackEndpoint.allowReviewCallbacks(this.workflow.stateMachine);
    // Step-up cards link to the web inbox; Slack users are linked to the company IdP.
    if (config.webInboxUrl) {
      for (const fn of [
        this.workflow.reviewFunction,
        this.workflow.recordFunction,
        this.slackEndpoint.handler,
        this.cardPoster.posterFunction,
      ])
        fn.bind(webInboxLink(config.webInboxUrl));
    }
    if (config.identityProvider)
      this.slackEndpoint.handler.bind(identityProviderReader(this, config.identityProvider));
    this.intentBus.allowDecisionsOnlyFrom(this.workflow.stateMachine.role);
    this.workflow.reviewFunction.bind(
      settings({ COUNTERSIGN_REVIEW_CHANNELS: config.reviewChannels.join(',') }),
    );
    if (config.teams) {
      this.teamsEndpoint = new TeamsEndpoint(this, 'TeamsEndpoint', {
        ...config.teams,
        auditWriter: this.auditStore.auditWriter(),
        slackSecretReader: this.slackEndpoint.secretReader(),
        approverGroupHandle: config.approverGroupHandle,
        policyBundle: this.policyBundle,
        ...(config.interactionReservedConcurrency !== undefined
          ? { reservedConcurrency: config.interactionReservedConcurrency }
          : {}),
      });
      this.teamsEndpoint.handler.bind(this.agents.selfReader());
      this.teamsEndpoint.allowReviewCallbacks(this.workflow.stateMachine);
      // Every handler that posts, repaints or replies to a review's cards reaches Teams too.
      for (const fn of [
        this.workflow.reviewFunction,
        this.workflow.recordFunction,
        this.workflow.reminders.reminderFunction,
        this.slackEndpoint.handler,
      ])
        fn.bind(this.teamsEndpoint.channel());
      new CfnOutput(this, 'TeamsMessagingEndpoint', {
        description: 'Paste into the Azure Bot resource: Configuration → Messaging endpoint',
        value: this.teamsEndpoint.functionUrl.url,
      });
      new CfnOutput(this, 'TeamsSecretArn', {
        description: 'Secrets Manager secret to fill with {"appPassword":"<Entra app client secret>"}',
        value: this.teamsEndpoint.secret.secretArn,
      });
    }
    this.intentRoute = new IntentRoute(this, 'IntentRoute', {
      eventBus: this.intentBus.eventBus,
      stateMachine: this.workflow.stateMachine,
      alarmActions,
    });
    this.cancelRoute = new CancelRoute(this, 'CancelRoute', {
      eventBus: this.intentBus.eventBus,
      stateMachine: this.workflow.stateMachine,
      auditWriter: this.auditStore.auditWriter(),
      alarmActions,
    });
    this.auditDigest = new AuditDigest(this, 'AuditDigest', {
      digestWriter: this.auditStore.digestWriter(),
      schedule: config.digestSchedule,
      alarmActions,
    });

    if (config.identityProvider) {
      this.webInbox = new WebInbox(this, 'WebInbox', {
        auditWriter: this.auditStore.auditWriter(),
        slackSecretReader: this.slackEndpoint.secretReader(),
        identityProvider: identityProviderReader(this, config.identityProvider),
        clientSecret: clientSecretReader(this, config.identityProvider),
        approverGroupHandle: config.approverGroupHandle,
        policyBundle: this.policyBundle,
      });
      this.webInbox.handler.bind(this.agents.selfReader());
      // A decision in the inbox repaints the request's Teams card too.
      if (this.teamsEndpoint) this.webInbox.handler.bind(this.teamsEndpoint.channel());
      this.webInbox.allowReviewCallbacks(this.workflow.stateMachine);
      // Without a configured URL (a custom domain), step-up cards link to the deployed inbox.
      if (!config.webInboxUrl) {
        for (const fn of [
          this.workflow.reviewFunction,
          this.workflow.recordFunction,
          this.slackEndpoint.handler,
          this.cardPoster.posterFunction,
        ])
          fn.bind(webInboxLink(this.webInbox.url));
      }
      new CfnOutput(this, 'WebInboxUrl', {
        description:
          'The web inbox and approval API (register <url>/callback as the redirect URI at the IdP)',
        value: this.webInbox.url,
      });
    }

    if (config.traceExport) {
      // Review exports the opening steps when the card is up, Record the rest with the decision
      // (docs/observability.md).
      const traceExport = new TraceExport(this, 'TraceExport', config.traceExport);
      this.workflow.reviewFunction.bind(traceExport.exporter());
      this.workflow.recordFunction.bind(traceExport.exporter());
      if (traceExport.headersSecret)
        new CfnOutput(this, 'TraceExportHeadersSecretArn', {
          description:
            'Secrets Manager secret to fill with the OTLP backend headers, e.g. {"x-api-key":"..."}',
          value: traceExport.headersSecret.secretArn,
        });
    }

    this.statusApi = new StatusApi(this, 'StatusApi', {
      tableReader: {
        environment: this.auditStore.tableEnvironment,
        // The status core reads one request or grant by key: GetItem only.
        grant: (g) => this.auditStore.grantItemRead(g),
      },
      auditWriter: this.auditStore.auditWriter(),
    });

    // Validated here, at synth: a catalog that does not parse fails the synth, naming the problem.
    this.executors = new Executors(this, 'Executors', {
      catalog: loadCatalog(path.resolve(REPO_ROOT, config.policyDir)),
      grantRole: this.statusApi.grantFunction.role!,
    });
    this.statusApi.grantFunction.bind(this.executors.exchanger());
    this.detector = new UnapprovedActionDetector(this, 'UnapprovedActionDetector', {
      catalog: this.executors.catalog,
      executorReader: this.executors.reader(),
      auditWriter: this.auditStore.auditWriter(),
      slackSecretReader: this.slackEndpoint.secretReader(),
      slackChannelId: config.slackChannelId,
      ownRoleArns: () =>
        this.node
          .findAll()
          .filter((c): c is HandlerFunction => c instanceof HandlerFunction)
          .map((fn) => fn.role!.roleArn),
      alarmActions,
    });

    this.workflow.recordFunction.addEnvironment(RUBBER_STAMP_ENV, String(config.rubberStampSeconds));
    this.monitoring = new OperationsMonitoring(this, 'Monitoring', {
      stateMachine: this.workflow.stateMachine,
      functions: {
        Evaluate: this.workflow.evaluateFunction,
        Review: this.workflow.reviewFunction,
        Record: this.workflow.recordFunction,
        Reminder: this.workflow.reminders.reminderFunction,
        Poster: this.cardPoster.posterFunction,
        Interaction: this.slackEndpoint.handler,
        Cancel: this.cancelRoute.handler,
        Archive: this.auditArchiver.handler,
        Digest: this.auditDigest.handler,
        Status: this.statusApi.statusFunction,
        Grant: this.statusApi.grantFunction,
        Detector: this.detector.handler,
        ...(this.webInbox ? { WebInbox: this.webInbox.handler } : {}),
        ...(this.teamsEndpoint ? { Teams: this.teamsEndpoint.handler } : {}),
      },
      interactionFunction: this.slackEndpoint.handler,
      archiveFunction: this.auditArchiver.handler,
      deadLetterQueues: {
        Intent: this.intentRoute.deadLetterQueue,
        Cancel: this.cancelRoute.deadLetterQueue,
        Archive: this.auditArchiver.deadLetterQueue,
        Reminder: this.workflow.reminders.deadLetterQueue,
        Poster: this.cardPoster.deadLetterQueue,
        Detector: this.detector.deadLetterQueue,
      },
      table: this.auditStore.table,
      existingAlarms: [
        this.workflow.executionsFailedAlarm,
        this.intentRoute.deadLetterAlarm,
        this.cancelRoute.deadLetterAlarm,
        this.auditArchiver.deadLetterAlarm,
        this.workflow.reminders.deadLetterAlarm,
        this.cardPoster.deadLetterAlarm,
        this.auditDigest.failureAlarm,
        this.detector.deadLetterAlarm,
        this.detector.alarm,
      ],
      alarmActions,
      digestInterval: scheduleInterval(config.digestSchedule),
    });

    new CfnOutput(this, 'DashboardName', {
      description: 'CloudWatch dashboard of this Countersign stack (docs/operations.md)',
      value: this.monitoring.dashboard.dashboardName,
    });
    new CfnOutput(this, 'AlarmTopicArn', {
      description: 'SNS topic every Countersign alarm notifies (alarmEmail subscribes to it; add your own)',
      value: this.alarms.topic.topicArn,
    });
    new CfnOutput(this, 'StatusApiUrl', {
      description: 'Status API base URL for agents (COUNTERSIGN_STATUS_URL; IAM/SigV4 auth)',
      value: this.statusApi.url,
    });
    new CfnOutput(this, 'SlackInteractivityUrl', {
      description: 'Paste into the Slack app: Interactivity & Shortcuts → Request URL',
      value: this.slackEndpoint.functionUrl.url,
    });
    new CfnOutput(this, 'SlackSecretArn', {
      description: 'Secrets Manager secret to fill with {"botToken":"xoxb-...","signingSecret":"..."}',
      value: this.slackEndpoint.secret.secretArn,
    });
    new CfnOutput(this, 'SlackSecretName', {
      description: 'Name of the Slack secret (for aws secretsmanager put-secret-value --secret-id)',
      value: this.slackEndpoint.secret.secretName,
    });
    new CfnOutput(this, 'EventBusName', {
      description: 'Bus agents publish intents on (DetailType "Privileged Action Requested")',
      value: this.intentBus.eventBus.eventBusName,
    });
    new CfnOutput(this, 'StateMachineArn', {
      description: 'The approval workflow',
      value: this.workflow.stateMachine.stateMachineArn,
    });
    new CfnOutput(this, 'AuditBucketName', {
      description: 'Object Lock (COMPLIANCE) bucket with the audit records and signed digests',
      value: this.auditStore.bucket.bucketName,
    });
    new CfnOutput(this, 'TableName', {
      description: 'Request and audit table',
      value: this.auditStore.table.tableName,
    });
    new CfnOutput(this, 'DigestKeyArn', {
      description: 'KMS key (ECC_NIST_P256) that signs the audit digests',
      value: this.auditDigest.signingKey.keyArn,
    });
    new CfnOutput(this, 'DigestPublicKeyCommand', {
      description: 'Saves the digest public key (DER) for `countersign audit verify`',
      value: Fn.join('', [
        'aws kms get-public-key --key-id ',
        this.auditDigest.signingKey.keyArn,
        ' --output text --query PublicKey | base64 -d > countersign-digest.der',
      ]),
    });
  }

  /**
   * Registers an executor role for the enforcement catalog's entries that
   * name `name` (policies/enforcement.json): it holds `options.statements`,
   * and only the grant function may assume it, per approved action, with a
   * session policy of exactly that action (see docs/enforcement.md).
   *
   * @throws Error when no catalog entry names the executor or its statements miss an IAM action an entry needs
   */
  public addExecutor(name: string, options: ExecutorOptions): iam.Role {
    return this.executors.addExecutor(name, options);
  }

  /**
   * Registers an agent: its role may publish intents only as
   * `countersign.agent.<agentId>` (and the bus refuses that source to anyone
   * else), and may read its own requests and consume its own grants through
   * the status API. Its owner (and optionally its environments) is bound
   * here: Evaluate refuses intents from agents registered nowhere and intents
   * claiming another owner, and the owner never approves the agent's actions.
   *
   * @throws Error naming the agent when the owner is not a valid email or an environment is not configured
   */
  public addAgent(role: iam.IRole, agentId: string, options: AgentOptions): void {
    this.agents.register(agentId, options);
    this.intentBus.grantPublish(role, agentId);
    this.statusApi.grantAgent(role, agentId);
  }
}
