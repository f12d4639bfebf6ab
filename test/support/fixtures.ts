/**
 * Test fixtures: a valid intent, and a request seeded in the table as the
 * review step leaves it (PENDING, review plan, task token, card location), with
 * the first audit records of its chain.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { type AuditDeps, appendAudit } from '../../lambdas/shared/audit.js';
import { intentHash } from '../../lambdas/shared/canonical.js';
import { AGENT_SOURCE_PREFIX, type Intent, intentSchema } from '../../lambdas/shared/intent.js';
import { type VerificationContext, verifyIntent } from '../../lambdas/shared/registration.js';
import { createRequest, getRequest, type RequestItem, type ReviewPlan } from '../../lambdas/shared/store.js';
import { AgentRegistry } from '../../lib/agent-registry.js';
import { CONFIG_CONTEXT_KEY, loadConfig } from '../../lib/config.js';
import { loadDirectory } from '../../sandbox/fake-slack.js';

/** The demo agent and its humans, as in sandbox/directory.json. */
export const DEMO = {
  agentId: 'deploy-bot',
  source: `${AGENT_SOURCE_PREFIX}deploy-bot`,
  /** Owner of the agent (erin, a member of security-approvers). */
  owner: 'erin@example.com',
  /** The human the agent acts for (carol, a member of security-approvers). */
  onBehalfOf: 'carol@example.com',
  channel: 'C0APPROVAL',
  approverGroup: 'security-approvers',
} as const;

/**
 * What Evaluate verifies intents against in the sandbox: cdk.json's
 * environments and email rules, and sandbox/directory.json's agents,
 * registered as `addAgent` registers them.
 */
export function sandboxVerification(): VerificationContext {
  if (verification) return verification;
  const cdk = JSON.parse(readFileSync(resolve(import.meta.dirname, '../../cdk.json'), 'utf8')) as {
    context: Record<string, unknown>;
  };
  const config = loadConfig(cdk.context[CONFIG_CONTEXT_KEY]);
  const registry = new AgentRegistry(config.environments, config.emailIdentity);
  for (const agent of loadDirectory().agents ?? []) registry.register(agent.id, agent);
  verification = {
    agents: registry.registrations,
    environments: config.environments,
    emailRules: config.emailIdentity,
  };
  return verification;
}
let verification: VerificationContext | undefined;

/** Overrides for {@link makeIntent}; `agent` is merged field by field. */
export type IntentOverrides = Partial<Omit<Intent, 'agent'>> & { agent?: Partial<Intent['agent']> };

/** A valid intent with a fresh `intentId`; throws if the overrides make it invalid. */
export function makeIntent(overrides: IntentOverrides = {}): Intent {
  const { agent, ...rest } = overrides;
  const intent = {
    intentId: `intent-${randomUUID()}`,
    action: 'iam:AttachRolePolicy',
    resource: 'arn:aws:iam::123456789012:role/payments-deployer',
    environment: 'prod',
    justification: 'Deploy pipeline needs read access to the payments artifacts bucket (INC-4211).',
    parameters: {
      policyArn: 'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess',
      roleName: 'payments-deployer',
    },
    agent: {
      model: 'claude-sonnet-4',
      sessionId: `session-${randomUUID()}`,
      onBehalfOf: DEMO.onBehalfOf,
      owner: DEMO.owner,
      ...agent,
    },
    ...rest,
  };
  return intentSchema.parse(intent);
}

/** The review plan evaluate writes for the default rule, with overrides. */
export function makeReviewPlan(overrides: Partial<ReviewPlan> = {}): ReviewPlan {
  return {
    quorum: 1,
    timeoutSeconds: 3600,
    approverGroups: [DEMO.approverGroup],
    approverEmails: [],
    policies: ['default-review'],
    masked: [],
    editable: [],
    ...overrides,
  };
}

/** Options of {@link seedPendingRequest}. */
export interface SeedOptions {
  intent?: IntentOverrides;
  agentId?: string;
  review?: Partial<ReviewPlan>;
  /** @default a fresh random token */
  taskToken?: string;
  /** Where the card lives; post or seed it in the fake Slack first so `chat.update` finds it. */
  card?: { channel: string; ts: string };
  /** @default deps.now() */
  createdAt?: Date;
}

/**
 * Seeds a PENDING request as the review step leaves it, and appends its first
 * audit records (`requested`, `reviewers-notified`), so the interaction's
 * records continue a real chain.
 */
export async function seedPendingRequest(deps: AuditDeps, options: SeedOptions = {}): Promise<RequestItem> {
  const intent = makeIntent(options.intent);
  const agentId = options.agentId ?? DEMO.agentId;
  const review = makeReviewPlan(options.review);
  const created = options.createdAt ?? deps.now();
  const createdAt = created.toISOString();
  const hash = intentHash(intent);
  // What Evaluate would have stored (absent when the seeded intent would not verify).
  const verified = verifyIntent(sandboxVerification(), agentId, intent);
  const outcome = await createRequest(deps, {
    ...(verified.ok ? { verified: verified.facts } : {}),
    intentId: intent.intentId,
    agentId,
    source: `${AGENT_SOURCE_PREFIX}${agentId}`,
    status: 'PENDING',
    intent,
    intentHash: hash,
    createdAt,
    executionId: `arn:aws:states:us-east-1:000000000000:execution:countersign:${intent.intentId}`,
    review,
    expiresAt: new Date(created.getTime() + review.timeoutSeconds * 1000).toISOString(),
    taskToken: options.taskToken ?? `task-token-${randomUUID()}`,
    ...(options.card ? { card: options.card } : {}),
  });
  if (outcome !== 'created') throw new Error(`request ${intent.intentId} already exists`);
  const ref = { requestId: intent.intentId, createdAt };
  await appendAudit(deps, ref, {
    kind: 'requested',
    actor: { type: 'agent', source: `${AGENT_SOURCE_PREFIX}${agentId}`, agentId },
    intentHash: hash,
    data: { action: intent.action, resource: intent.resource, environment: intent.environment },
  });
  await appendAudit(deps, ref, {
    kind: 'reviewers-notified',
    actor: { type: 'system', component: 'review' },
    intentHash: hash,
    data: { ...options.card, approverGroups: review.approverGroups, quorum: review.quorum },
  });
  const request = await getRequest(deps, intent.intentId);
  if (!request) throw new Error(`seeded request ${intent.intentId} cannot be read back`);
  return request;
}
