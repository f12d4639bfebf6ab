/**
 * The intent bus: the custom EventBridge bus agents publish intents on, the
 * publish grant that binds an agent to its own source, and the rule that
 * starts one workflow execution per intent.
 */
import { Duration, Lazy, Stack } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import {
  AGENT_SOURCE_PREFIX,
  agentIdSchema,
  CANCEL_DETAIL_TYPE,
  DECISION_DETAIL_TYPE,
  DECISION_SOURCE,
  INTENT_DETAIL_TYPE,
} from '../lambdas/shared/intent.js';
import { alarmedDeadLetterQueue, deadLetterAsyncFailures } from './dead-letter-queue.js';
import { type Binding, HandlerFunction } from './handler-function.js';

/** Properties of an {@link IntentBus}. */
export interface IntentBusProps {
  /**
   * Name of the custom event bus.
   * @default 'countersign'
   */
  readonly eventBusName?: string;
}

/**
 * The custom bus.
 *
 * Resource policy (what was chosen, and why): EventBridge authorises a
 * same-account `PutEvents` by the caller's IAM policy, so an `Allow` in the bus
 * policy would grant nothing and restrict nothing. The bus policy therefore
 * holds only `Deny` statements, for every principal:
 * - `DenyUnknownSources`: any source other than `countersign.agent.*` (agents)
 *   and `countersign` (the workflow's decisions);
 * - `DenyForgedDecisionSource` / `DenyForgedDecisionType` (added by
 *   {@link allowDecisionsOnlyFrom}): the `countersign` source or the
 *   `Privileged Action Decided` detail-type from anyone but the workflow's role.
 * - `DenyUnregisteredAgents`: an agent source (`countersign.agent.*`) from any
 *   principal that was not bound to an agent with {@link grantPublish}. With no
 *   agent registered it has no exception at all: nobody may publish as an agent
 *   (fail closed).
 * - `DenyAgentSource<n>` (one per agent, added by {@link grantPublish}):
 *   `countersign.agent.<id>` from any principal but the role(s) bound to `<id>`.
 *   So even a principal whose own IAM policy allows `events:PutEvents` broadly
 *   cannot speak for an agent.
 *
 * The whole policy is one document, set as the bus's own `Policy` property:
 * there are no separate `AWS::Events::EventBusPolicy` resources, so no
 * statement can be lost to concurrent `PutPermission` calls during a deploy,
 * and no statement id is shared with another copy of the stack. (The document
 * names the bus by its ARN built from the name, since the bus cannot refer to
 * its own `Arn` attribute.) No other account is allowed in.
 */
export class IntentBus extends Construct {
  /** The custom event bus. */
  public readonly eventBus: events.EventBus;
  /** Principal ARNs bound to each agent id by {@link grantPublish}. */
  private readonly agentPrincipals = new Map<string, string[]>();
  /** The workflow role allowed to publish decisions, once {@link allowDecisionsOnlyFrom} ran. */
  private decisionPublisherArn?: string;
  /** The bus ARN as the policy names it (built from the name: no self-reference). */
  private readonly policyBusArn: string;

  constructor(scope: Construct, id: string, props: IntentBusProps = {}) {
    super(scope, id);
    const eventBusName = props.eventBusName ?? 'countersign';
    this.eventBus = new events.EventBus(this, 'Bus', { eventBusName });
    this.policyBusArn = Stack.of(this).formatArn({
      service: 'events',
      resource: 'event-bus',
      resourceName: eventBusName,
    });
    const cfnBus = this.eventBus.node.defaultChild as events.CfnEventBus;
    cfnBus.policy = Lazy.any({ produce: () => this.policyDocument().toJSON() });
  }

  /** The bus policy: every statement, rendered at synth from the agents and the decision publisher. */
  public policyDocument(): iam.PolicyDocument {
    const deny = (sid: string, conditions: Record<string, Record<string, unknown>>) =>
      new iam.PolicyStatement({
        sid,
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['events:PutEvents'],
        resources: [this.policyBusArn],
        conditions,
      });
    const statements = [
      deny('DenyUnknownSources', {
        StringNotLike: { 'events:source': [`${AGENT_SOURCE_PREFIX}*`, DECISION_SOURCE] },
      }),
    ];
    if (this.decisionPublisherArn) {
      const notThePublisher = { ArnNotEquals: { 'aws:PrincipalArn': this.decisionPublisherArn } };
      statements.push(
        deny('DenyForgedDecisionSource', {
          StringEquals: { 'events:source': DECISION_SOURCE },
          ...notThePublisher,
        }),
        deny('DenyForgedDecisionType', {
          StringEquals: { 'events:detail-type': DECISION_DETAIL_TYPE },
          ...notThePublisher,
        }),
      );
    }
    const bound = [...this.agentPrincipals.values()].flat();
    statements.push(
      deny('DenyUnregisteredAgents', {
        StringLike: { 'events:source': `${AGENT_SOURCE_PREFIX}*` },
        // No agent registered: no exception, so nobody may publish as an agent.
        ...(bound.length > 0 ? { ArnNotEquals: { 'aws:PrincipalArn': bound } } : {}),
      }),
    );
    let n = 0;
    for (const [agentId, principals] of this.agentPrincipals) {
      n += 1;
      statements.push(
        deny(`DenyAgentSource${n}`, {
          StringEquals: { 'events:source': `${AGENT_SOURCE_PREFIX}${agentId}` },
          ArnNotEquals: { 'aws:PrincipalArn': principals },
        }),
      );
    }
    return new iam.PolicyDocument({ statements });
  }

  /**
   * Lets an agent's role publish intents and cancellations as itself only:
   * `events:PutEvents` on this bus with `events:source` =
   * `countersign.agent.<agentId>` and `events:detail-type` one of
   * `Privileged Action Requested` / `Privileged Action Cancelled`; and binds
   * the source to the grantee in the bus policy, which refuses that source to
   * every other principal. The grantee must be an IAM role (or user): its ARN is
   * what the bus policy names.
   */
  public grantPublish(grantee: iam.IGrantable, agentId: string): iam.Grant {
    if (!agentIdSchema.safeParse(agentId).success) {
      throw new Error(
        `grantPublish: agent id "${agentId}" must be 1-64 of [a-z0-9._-], starting alphanumeric`,
      );
    }
    const principalArn = principalArnOf(grantee);
    const existing = this.agentPrincipals.get(agentId);
    if (existing) existing.push(principalArn);
    else this.agentPrincipals.set(agentId, [principalArn]);
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['events:PutEvents'],
      resourceArns: [this.eventBus.eventBusArn],
      conditions: {
        StringEquals: {
          'events:source': `${AGENT_SOURCE_PREFIX}${agentId}`,
          'events:detail-type': [INTENT_DETAIL_TYPE, CANCEL_DETAIL_TYPE],
        },
      },
    });
  }

  /**
   * Makes the decision source and detail-type unforgeable: only `role` (the
   * workflow's) may publish `Source: countersign` or `Privileged Action Decided`.
   */
  public allowDecisionsOnlyFrom(role: iam.IRole): void {
    this.decisionPublisherArn = role.roleArn;
  }
}

/**
 * The ARN a bus or resource policy names for a grantee: a role's ARN, or a
 * user's. `aws:PrincipalArn` of a role session is the role's ARN.
 */
export function principalArnOf(grantee: iam.IGrantable): string {
  const principal = grantee.grantPrincipal as Partial<iam.IRole & iam.IUser>;
  const arn = principal.roleArn ?? principal.userArn;
  if (!arn) {
    throw new Error(
      'grantPublish: the grantee must be an IAM role or user (the bus policy binds the agent source to its ARN)',
    );
  }
  return arn;
}

/** Properties of an {@link IntentRoute}. */
export interface IntentRouteProps {
  /** The bus intents arrive on. */
  readonly eventBus: events.IEventBus;
  /** The workflow each intent starts. */
  readonly stateMachine: sfn.IStateMachine;
  /**
   * How often EventBridge retries a failed StartExecution before dead-lettering.
   * @default 24
   */
  readonly retryAttempts?: number;
  /**
   * How long EventBridge keeps retrying an intent.
   * @default Duration.hours(6)
   */
  readonly maxEventAge?: Duration;
  /**
   * Actions of the dead-letter alarm (e.g. an SNS topic).
   * @default - none
   */
  readonly alarmActions?: cloudwatch.IAlarmAction[];
}

/**
 * The intent rule: detail-type `Privileged Action Requested` from any
 * `countersign.agent.` source starts the workflow with the event as input.
 * Delivery retries, then lands in an encrypted dead-letter queue that raises an
 * alarm, so no intent is lost silently.
 */
export class IntentRoute extends Construct {
  /** The rule matching intents. */
  public readonly rule: events.Rule;
  /** Intents EventBridge could not deliver. */
  public readonly deadLetterQueue: sqs.Queue;
  /** In alarm while the dead-letter queue holds anything. */
  public readonly deadLetterAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: IntentRouteProps) {
    super(scope, id);
    ({ queue: this.deadLetterQueue, alarm: this.deadLetterAlarm } = alarmedDeadLetterQueue(
      this,
      'the intent rule target',
      'Countersign intents could not start a workflow and are in the dead-letter queue',
      props.alarmActions,
    ));
    this.rule = new events.Rule(this, 'Rule', {
      eventBus: props.eventBus,
      description: 'Starts one Countersign approval workflow per privileged-action intent',
      eventPattern: {
        detailType: [INTENT_DETAIL_TYPE],
        source: events.Match.prefix(AGENT_SOURCE_PREFIX),
      },
      targets: [
        new targets.SfnStateMachine(props.stateMachine, {
          deadLetterQueue: this.deadLetterQueue,
          retryAttempts: props.retryAttempts ?? 24,
          maxEventAge: props.maxEventAge ?? Duration.hours(6),
        }),
      ],
    });
  }
}

/** Properties of a {@link CancelRoute}. */
export interface CancelRouteProps {
  /** The bus cancellations arrive on. */
  readonly eventBus: events.IEventBus;
  /** The workflow whose waiting Review task a cancellation ends (`states:SendTaskFailure` only). */
  readonly stateMachine: sfn.IStateMachine;
  /** Table and audit-bucket access for the cancel handler. */
  readonly auditWriter: Binding;
  /**
   * Actions of the dead-letter alarm.
   * @default - none
   */
  readonly alarmActions?: cloudwatch.IAlarmAction[];
}

/**
 * The cancellation rule: detail-type `Privileged Action Cancelled` from any
 * `countersign.agent.` source invokes the cancel handler
 * (`lambdas/cancel/handler.ts`), which ends the agent's own pending review as
 * CANCELLED. The same IAM source binding as for intents applies
 * ({@link IntentBus.grantPublish}), and the handler refuses a cancellation
 * whose source agent is not the intent's. Undeliverable events go to an
 * alarmed dead-letter queue.
 */
export class CancelRoute extends Construct {
  /** The rule matching cancellations. */
  public readonly rule: events.Rule;
  /** The cancel handler. */
  public readonly handler: HandlerFunction;
  /** Cancellations EventBridge could not deliver. */
  public readonly deadLetterQueue: sqs.Queue;
  /** In alarm while the dead-letter queue holds anything. */
  public readonly deadLetterAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: CancelRouteProps) {
    super(scope, id);
    this.handler = new HandlerFunction(this, 'CancelFunction', {
      name: 'cancel',
      description:
        'Countersign cancel: an agent withdraws its own pending intent (ends the review CANCELLED)',
    }).bind(props.auditWriter);
    props.stateMachine.grant(this.handler, 'states:SendTaskFailure');

    ({ queue: this.deadLetterQueue, alarm: this.deadLetterAlarm } = alarmedDeadLetterQueue(
      this,
      'the cancellation rule target',
      'Countersign cancellations could not be delivered and are in the dead-letter queue',
      props.alarmActions,
    ));
    deadLetterAsyncFailures(this.handler, this.deadLetterQueue, Duration.hours(1));
    this.rule = new events.Rule(this, 'Rule', {
      eventBus: props.eventBus,
      description: 'Ends an agent’s own pending Countersign review as CANCELLED',
      eventPattern: {
        detailType: [CANCEL_DETAIL_TYPE],
        source: events.Match.prefix(AGENT_SOURCE_PREFIX),
      },
      targets: [
        new targets.LambdaFunction(this.handler, {
          deadLetterQueue: this.deadLetterQueue,
          retryAttempts: 8,
          maxEventAge: Duration.hours(1),
        }),
      ],
    });
  }
}
