/**
 * Grants: the single-use permission an approval carries. Record creates one
 * grant item per approved request; the agent consumes it right before it runs
 * the action. Consuming is ONE conditional write (exists, not yet consumed, not
 * expired, and — through the API — owned by the calling agent), so of any
 * number of concurrent consumes exactly one succeeds, and a consume after
 * expiry fails. Every successful consume is audited on the request's chain.
 *
 * Item: pk `GRANT#<grantId>`, sk `GRANT` (see docs/architecture.md).
 */
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { type AuditActor, type AuditDeps, appendAudit } from './audit.js';
import { approvedIntentHash } from './canonical.js';
import { getRequest, isConditionFailure, type RequestDecision, type StoreDeps } from './store.js';

/** How long a grant item stays in the table after it expires (TTL), so late consumes get a precise error. */
export const GRANT_RETENTION_SECONDS = 30 * 24 * 60 * 60;

/** The grant item. */
export interface GrantItem {
  pk: string;
  sk: 'GRANT';
  grantId: string;
  /** The request (intent id) this grant was issued for. */
  intentId: string;
  /** The agent that may consume it (from the event source, never from the detail). */
  agentId: string;
  /** Hash of exactly the intent that was approved (with approved modifications). */
  intentHash: string;
  issuedAt: string;
  expiresAt: string;
  /** Set by the one consume that won. */
  consumedAt?: string;
  consumedBy?: string;
  /** DynamoDB TTL, epoch seconds: {@link GRANT_RETENTION_SECONDS} after expiry. */
  ttl: number;
}

/** DynamoDB key of a grant. */
export const grantKey = (grantId: string) => ({ pk: `GRANT#${grantId}`, sk: 'GRANT' as const });

/** Shape of a grant id (Record issues UUIDs); anything else is refused before touching the table. */
export const GRANT_ID = /^[A-Za-z0-9][A-Za-z0-9-]{7,127}$/;

/**
 * Creates the grant item of an approval. Idempotent: a retried Record finds
 * the item already there and leaves it (and its consumption) untouched.
 */
export async function createGrant(
  { ddb, table }: StoreDeps,
  request: { intentId: string; agentId: string },
  decision: Pick<RequestDecision, 'grant' | 'intentHash' | 'decidedAt'>,
): Promise<'created' | 'exists' | 'none'> {
  const grant = decision.grant;
  if (!grant) return 'none';
  const item: GrantItem = {
    ...grantKey(grant.grantId),
    grantId: grant.grantId,
    intentId: request.intentId,
    agentId: request.agentId,
    intentHash: decision.intentHash,
    issuedAt: decision.decidedAt,
    expiresAt: grant.expiresAt,
    ttl: Math.floor(Date.parse(grant.expiresAt) / 1000) + GRANT_RETENTION_SECONDS,
  };
  try {
    await ddb.send(
      new PutCommand({ TableName: table, Item: item, ConditionExpression: 'attribute_not_exists(pk)' }),
    );
    return 'created';
  } catch (error) {
    if (isConditionFailure(error)) return 'exists';
    throw error;
  }
}

/** Reads a grant (strongly consistent), or undefined. */
export async function getGrant({ ddb, table }: StoreDeps, grantId: string): Promise<GrantItem | undefined> {
  const out = await ddb.send(
    new GetCommand({ TableName: table, Key: grantKey(grantId), ConsistentRead: true }),
  );
  return out.Item as GrantItem | undefined;
}

/** Why a consume was refused. */
export type ConsumeRefusal = 'not-found' | 'already-consumed' | 'expired' | 'not-yours';

/** Outcome of {@link consumeGrant}. */
export type ConsumeResult =
  | { ok: true; grant: GrantItem }
  | { ok: false; reason: ConsumeRefusal; message: string; grant?: GrantItem };

/** Who consumes a grant. `agentId` restricts the consume to that agent's grants. */
export interface Consumer {
  /** When set, the grant must belong to this agent (the API sets it from the caller's role). */
  agentId?: string;
  /** Audit actor of the consume. */
  actor: AuditActor;
}

/**
 * Consumes a grant: one conditional UpdateItem
 * (`attribute_exists(pk) AND attribute_not_exists(consumedAt) AND expiresAt > :now`,
 * plus `agentId = :agent` when the consumer is an agent), then one audit
 * record (`grant-consumed`) on the request's chain. A refused consume changes
 * nothing. If the audit append fails after the write won, this throws: the
 * grant is spent but the caller was never told it may proceed (fail closed).
 */
export async function consumeGrant(
  deps: AuditDeps,
  grantId: string,
  consumer: Consumer,
): Promise<ConsumeResult> {
  if (!GRANT_ID.test(grantId)) return { ok: false, reason: 'not-found', message: `no grant ${grantId}` };
  const now = deps.now().toISOString();
  const consumedBy =
    consumer.actor.type === 'agent'
      ? `agent:${consumer.actor.agentId}`
      : consumer.actor.type === 'human'
        ? `human:${consumer.actor.email ?? consumer.actor.slackUserId}`
        : consumer.actor.type === 'system'
          ? `system:${consumer.actor.component}`
          : 'policy';
  // The owner check's condition and its value come and go together.
  const owner =
    consumer.agentId !== undefined
      ? { conditions: ['agentId = :agent'], values: { ':agent': consumer.agentId } }
      : { conditions: [], values: {} };
  let grant: GrantItem;
  try {
    const out = await deps.ddb.send(
      new UpdateCommand({
        TableName: deps.table,
        Key: grantKey(grantId),
        UpdateExpression: 'SET consumedAt = :now, consumedBy = :by',
        ConditionExpression: [
          'attribute_exists(pk)',
          'attribute_not_exists(consumedAt)',
          'expiresAt > :now',
          ...owner.conditions,
        ].join(' AND '),
        ExpressionAttributeValues: { ':now': now, ':by': consumedBy, ...owner.values },
        ReturnValues: 'ALL_NEW',
      }),
    );
    grant = out.Attributes as GrantItem;
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
    return explainRefusal(await getGrant(deps, grantId), grantId, consumer, now);
  }

  const request = await getRequest(deps, grant.intentId);
  await appendAudit(
    deps,
    { requestId: grant.intentId, createdAt: request?.createdAt ?? grant.issuedAt },
    {
      kind: 'grant-consumed',
      actor: consumer.actor,
      intentHash: grant.intentHash,
      data: { grantId, consumedAt: now, expiresAt: grant.expiresAt, consumedBy },
    },
  );
  return { ok: true, grant };
}

/**
 * Explains why the conditional consume write of `grantId` at `now` failed,
 * from the grant item as read back after it (`undefined` when there is none).
 * Pure: the refusal a consumer gets depends only on that item.
 */
export function explainRefusal(
  grant: GrantItem | undefined,
  grantId: string,
  consumer: Pick<Consumer, 'agentId'>,
  now: string,
): ConsumeResult & { ok: false } {
  if (!grant) return { ok: false, reason: 'not-found', message: `no grant ${grantId}` };
  // Another agent's grant is reported exactly like a missing one: no existence oracle.
  if (consumer.agentId !== undefined && grant.agentId !== consumer.agentId) {
    return { ok: false, reason: 'not-yours', message: `no grant ${grantId}` };
  }
  if (grant.consumedAt) {
    return {
      ok: false,
      reason: 'already-consumed',
      message: `grant ${grantId} was already consumed at ${grant.consumedAt}; a grant is single use`,
      grant,
    };
  }
  if (grant.expiresAt <= now) {
    return { ok: false, reason: 'expired', message: `grant ${grantId} expired at ${grant.expiresAt}`, grant };
  }
  // The condition failed but the item now looks consumable: a concurrent change we cannot explain. Refuse.
  return { ok: false, reason: 'already-consumed', message: `grant ${grantId} could not be consumed`, grant };
}

export { approvedIntentHash };
