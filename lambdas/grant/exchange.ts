/**
 * Credential exchange: `POST /grants/{grantId}/credentials`. The calling agent
 * trades one of its own single-use grants for STS credentials of the executor
 * role its approved action maps to (policies/enforcement.json), assumed with
 * an inline session policy that allows exactly the approved call. Everything
 * that can refuse without spending the grant is checked first; then the one
 * conditional consume write decides (so of 20 concurrent exchanges one wins);
 * then STS is asked. A failure after the consume leaves the grant spent and
 * audited (fail closed: no second set of credentials for one approval).
 *
 * STS facts this relies on (docs/enforcement.md): `DurationSeconds` is at least
 * 900; the session policy's plaintext is at most 2,048 characters and its
 * packed form must fit (`PackedPolicySize`); `SourceIdentity` is 2-64 of
 * `[\w+=,.@-]` and cannot be changed by later role chaining; session tags and
 * source identity need `sts:TagSession` and `sts:SetSourceIdentity` in the
 * executor role's trust policy.
 */
import { AssumeRoleCommand, type STSClient } from '@aws-sdk/client-sts';
import type { AuditDeps } from '../shared/audit.js';
import { appendAudit } from '../shared/audit.js';
import { intentHash } from '../shared/canonical.js';
import { consumeGrant, GRANT_ID, getGrant } from '../shared/grants.js';
import { AGENT_SOURCE_PREFIX, type Intent } from '../shared/intent.js';
import { getRequest, type RequestItem } from '../shared/store.js';
import { type AgentRoles, type ApiAnswer, agentForCaller, notAnAgent } from '../status/caller.js';
import { type ApprovedAction, type Catalog, type PolicyDocument, sessionPolicyFor } from './catalog.js';
import { refusalAnswer } from './core.js';

/** STS's shortest session. */
export const MIN_SESSION_SECONDS = 900;
/** The executor roles' `MaxSessionDuration` (STS's default for a role). */
export const MAX_SESSION_SECONDS = 3600;
/** What STS accepts as a `SourceIdentity` (and a role session name). */
export const SOURCE_IDENTITY = /^[\w+=,.@-]{2,64}$/;
/** Session tag keys on every minted session. */
export const SESSION_TAGS = { agent: 'countersign:agent', request: 'countersign:request' } as const;

/** Dependencies of {@link exchangeForCaller}. */
export interface ExchangeDeps extends AuditDeps {
  agentRoles: AgentRoles;
  catalog: Catalog;
  /** Executor name → role ARN (`COUNTERSIGN_EXECUTORS`). */
  executors: Readonly<Record<string, string>>;
  sts: Pick<STSClient, 'send'>;
}

/** The approved intent a grant stands for: the agent's intent with the approved parameters. */
export function approvedIntentOf(request: RequestItem): Intent | undefined {
  if (!request.intent || request.status !== 'APPROVED' || !request.decision) return undefined;
  const parameters = request.decision.parameters ?? request.intent.parameters;
  return { ...request.intent, parameters };
}

/** `record[key]` when the record has that key itself (an executor named `constructor` is no deployed one). */
const own = <T>(record: Readonly<Record<string, T>>, key: string): T | undefined =>
  Object.hasOwn(record, key) ? record[key] : undefined;

const refuse = (statusCode: number, error: string, message: string): ApiAnswer => ({
  statusCode,
  body: { error, message },
});

/** What {@link planExchange} decided before anything is spent. */
export type ExchangePlan =
  | {
      ok: true;
      roleArn: string;
      policy: PolicyDocument;
      approved: Intent;
      durationSeconds: number;
      /** The request's audit chain (the request was read while planning). */
      chain: { requestId: string; createdAt: string };
    }
  | { ok: false; answer: ApiAnswer };

/** A plan that refuses the exchange with this answer. */
const refused = (statusCode: number, error: string, message: string): ExchangePlan => ({
  ok: false,
  answer: refuse(statusCode, error, message),
});

/**
 * Everything that can refuse an exchange without spending the grant: the
 * grant is the caller's, unspent and alive, its request APPROVED with exactly
 * the hash the grant names, the action has a catalog entry and a deployed
 * executor, and the session policy can be written.
 */
export async function planExchange(
  deps: ExchangeDeps,
  grantId: string,
  agentId: string,
): Promise<ExchangePlan> {
  const notFound = refused(404, 'not_found', `no grant ${grantId}`);
  if (!GRANT_ID.test(grantId)) return notFound;
  const grant = await getGrant(deps, grantId);
  // Another agent's grant is answered exactly like a missing one: no existence oracle.
  if (!grant || grant.agentId !== agentId) return notFound;
  if (grant.consumedAt) {
    return refused(
      409,
      'already_consumed',
      `grant ${grantId} was already consumed at ${grant.consumedAt}; a grant is single use`,
    );
  }
  const now = deps.now();
  if (grant.expiresAt <= now.toISOString()) {
    return refused(410, 'expired', `grant ${grantId} expired at ${grant.expiresAt}`);
  }
  const request = await getRequest(deps, grant.intentId);
  const approved = request && approvedIntentOf(request);
  if (!approved) {
    return refused(
      409,
      'not_approved',
      `request ${grant.intentId} is ${request?.status ?? 'unknown'}, not APPROVED`,
    );
  }
  // The approved intent is the agent's with the approved parameters: its hash is the decision's.
  if (intentHash(approved) !== grant.intentHash) {
    return refused(
      409,
      'not_approved',
      `grant ${grantId} does not name the approved version of ${grant.intentId}`,
    );
  }
  const entry = own(deps.catalog.actions, approved.action);
  if (!entry) {
    return refused(
      422,
      'no_executor',
      `${approved.action} has no entry in the enforcement catalog: the grant stays unspent and gives no credentials`,
    );
  }
  const roleArn = own(deps.executors, entry.executor);
  if (!roleArn) {
    return refused(
      422,
      'no_executor',
      `${approved.action} has no deployed executor "${entry.executor}": the grant stays unspent and gives no credentials`,
    );
  }
  if (!SOURCE_IDENTITY.test(approved.intentId)) {
    return refused(
      422,
      'not_scopable',
      `intent id ${approved.intentId} cannot be an STS SourceIdentity (2-64 of [A-Za-z0-9_+=,.@-]); the grant stays unspent`,
    );
  }
  const action: ApprovedAction = {
    action: approved.action,
    resource: approved.resource,
    parameters: approved.parameters,
  };
  const policy = sessionPolicyFor(entry, action, grant.expiresAt);
  if (!policy.ok) {
    return refused(
      422,
      'not_scopable',
      `no credentials can be scoped to this approval (${policy.reason}); the grant stays unspent`,
    );
  }
  const left = Math.floor((Date.parse(grant.expiresAt) - now.getTime()) / 1000);
  const durationSeconds = Math.min(MAX_SESSION_SECONDS, Math.max(MIN_SESSION_SECONDS, left));
  // `approved` stands for a request that was read: it carries its creation date.
  const chain = { requestId: grant.intentId, createdAt: request!.createdAt };
  return { ok: true, roleArn, policy: policy.policy, approved, durationSeconds, chain };
}

/** Exchanges `grantId` for executor credentials on behalf of the caller's agent. */
export async function exchangeForCaller(
  deps: ExchangeDeps,
  input: { grantId: string; callerArn: string | null | undefined },
): Promise<ApiAnswer> {
  const agentId = agentForCaller(deps.agentRoles, input.callerArn);
  if (!agentId) return notAnAgent(input.callerArn);
  const plan = await planExchange(deps, input.grantId, agentId);
  if (!plan.ok) return plan.answer;
  const actor = { type: 'agent' as const, agentId, source: `${AGENT_SOURCE_PREFIX}${agentId}` };
  const consumed = await consumeGrant(deps, input.grantId, { agentId, actor });
  if (!consumed.ok) return refusalAnswer(consumed);
  const grant = consumed.grant;
  const chain = plan.chain;
  const sessionPolicy = JSON.stringify(plan.policy);
  const facts = {
    grantId: grant.grantId,
    roleArn: plan.roleArn,
    sourceIdentity: plan.approved.intentId,
    durationSeconds: plan.durationSeconds,
    sessionPolicy: plan.policy,
  };
  let credentials:
    | { AccessKeyId?: string; SecretAccessKey?: string; SessionToken?: string; Expiration?: Date }
    | undefined;
  try {
    const out = await deps.sts.send(
      new AssumeRoleCommand({
        RoleArn: plan.roleArn,
        RoleSessionName: `countersign-${grant.grantId}`.slice(0, 64),
        Policy: sessionPolicy,
        DurationSeconds: plan.durationSeconds,
        SourceIdentity: plan.approved.intentId,
        Tags: [
          { Key: SESSION_TAGS.agent, Value: agentId },
          { Key: SESSION_TAGS.request, Value: plan.approved.intentId },
        ],
      }),
    );
    credentials = out.Credentials;
    if (!credentials?.AccessKeyId || !credentials.SecretAccessKey || !credentials.SessionToken) {
      throw new Error('STS answered without credentials');
    }
  } catch (error) {
    await appendAudit(deps, chain, {
      kind: 'credentials-failed',
      actor,
      intentHash: grant.intentHash,
      data: { ...facts, error: `${(error as Error).name}: ${(error as Error).message}`.slice(0, 500) },
    });
    return refuse(
      502,
      'sts_failed',
      `STS refused the executor session; grant ${grant.grantId} is spent (fail closed)`,
    );
  }
  const expiration = credentials.Expiration ? new Date(credentials.Expiration).toISOString() : undefined;
  await appendAudit(deps, chain, {
    kind: 'credentials-issued',
    actor,
    intentHash: grant.intentHash,
    // The access key id is not secret; it ties the session to CloudTrail.
    data: { ...facts, accessKeyId: credentials.AccessKeyId, expiration },
  });
  return {
    statusCode: 200,
    body: {
      credentials: {
        accessKeyId: credentials.AccessKeyId,
        secretAccessKey: credentials.SecretAccessKey,
        sessionToken: credentials.SessionToken,
        expiration,
      },
      grant: {
        grantId: grant.grantId,
        intentId: grant.intentId,
        intentHash: grant.intentHash,
        expiresAt: grant.expiresAt,
        consumedAt: grant.consumedAt,
      },
      roleArn: plan.roleArn,
      sourceIdentity: plan.approved.intentId,
      sessionPolicy: plan.policy,
    },
  };
}

/**
 * Parses `COUNTERSIGN_EXECUTORS`: a JSON object of executor name → role ARN.
 * @throws Error at cold start when it is not one
 */
export function parseExecutors(text: string | undefined): Record<string, string> {
  if (!text?.trim()) return {};
  const raw = JSON.parse(text) as unknown;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new Error('COUNTERSIGN_EXECUTORS must be an object');
  for (const [name, arn] of Object.entries(raw)) {
    if (typeof arn !== 'string' || !/^arn:[a-z-]+:iam::\d{12}:role\//.test(arn)) {
      throw new Error(`COUNTERSIGN_EXECUTORS: ${name} is not a role ARN`);
    }
  }
  return raw as Record<string, string>;
}
