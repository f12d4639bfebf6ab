/**
 * The request store: one DynamoDB item per request, changed only by
 * single-item conditional writes. The condition on each write is what makes
 * the invariants hold under concurrency: one request per intent id, one vote
 * per person, exactly one final decision.
 *
 * Table layout (single table, string keys `pk` / `sk`):
 * - request:      pk `REQUEST#<intentId>`  sk `REQUEST`
 * - audit record: pk `REQUEST#<intentId>`  sk `AUDIT#<seq, 8 digits>`  (see audit.ts)
 * - replay guard: pk `SLACKSIG#<sha256>`   sk `SLACKSIG`                (see interaction)
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type { SignInRef, StepUpRequirement } from '../identity/contract.js';
import { currentHash, currentIntent } from './current-intent.js';
import type { ApproverRef, DecisionDetail, FinalStatus, Intent, RequestStatus } from './intent.js';
import type { VerifiedFacts } from './registration.js';
import { requestTrace } from './tracing-context.js';

/**
 * Name of the table's keys-only GSI that lists requests by status, newest
 * first: partition `status`, sort `createdAt`. Only request items carry both
 * attributes, so nothing else is indexed (and the task token never is).
 */
export const REQUEST_STATUS_INDEX = 'byStatus';

/** Every request status: the partitions of {@link REQUEST_STATUS_INDEX}. */
export const REQUEST_STATUSES: readonly RequestStatus[] = [
  'PENDING',
  'APPROVED',
  'DENIED',
  'EXPIRED',
  'CANCELLED',
];

/** What policy decided a review needs. Produced by evaluate, stored on the request. */
export interface ReviewPlan {
  /** Distinct approvals needed; any single deny denies. */
  quorum: number;
  /** Seconds until an unanswered review expires into a denial. */
  timeoutSeconds: number;
  /** Slack user-group handles whose members may approve. */
  approverGroups: string[];
  /** Emails that may approve regardless of group. */
  approverEmails: string[];
  /** Policy ids that determined the outcome. */
  policies: string[];
  /** Parameter paths masked on the card (dot paths into `parameters`). */
  masked: string[];
  /** Parameter paths an approver may edit before approving. */
  editable: string[];
  /** What an approval's sign-in must meet (policies' `@stepup`, strictest); none when absent. Deny never needs it. */
  stepUp?: StepUpRequirement;
  /** Seconds before expiry at which to remind the approvers (largest first). */
  remindBeforeSeconds?: number[];
  /** Who is told when the review nears expiry unanswered: `group:<handle>` / `email:<address>`. */
  escalateTo?: string[];
  /** True when every matching review policy allows break-glass handling. */
  breakGlass?: boolean;
  /** Slack user-group handles whose members may break glass (every matching policy's `@responders`). */
  responderGroups?: string[];
  /** Emails that may break glass. */
  responderEmails?: string[];
  /** Where the review is shown (`@channels`): absent means the deployment's configured channels. */
  channels?: string[];
}

/** A final decision as written on the request. */
export interface RequestDecision {
  status: FinalStatus;
  automatic: boolean;
  reason: string;
  decidedAt: string;
  approvers: ApproverRef[];
  policies: string[];
  /** Slack user who made the deciding click, when a human decided. */
  decidedBy?: { slackUserId: string; email: string; channel?: string; signIn?: SignInRef };
  /** Parameters as approved, when modified. */
  parameters?: Record<string, unknown>;
  intentHash: string;
  /** True when the on-behalf-of responder approved their own urgent request on the break-glass path. */
  breakGlass?: true;
  /** The responder's reason, as typed, on a break-glass approval (Record announces it). */
  breakGlassReason?: string;
  /** Present on approvals: a single-use permission to execute exactly this intent. */
  grant?: { grantId: string; expiresAt: string; singleUse: true };
}

/** An approver's change to the parameters before approving (policy re-evaluated it). */
export interface Modification {
  /** The parameters as modified: what an approval of this request approves. */
  parameters: Record<string, unknown>;
  /** Hash of the intent with these parameters (`approvedIntentHash`). */
  intentHash: string;
  /** Hash of the intent the modifier saw (the agent's, or the previous modification's). */
  fromHash: string;
  /** Changed paths: `{ path, from, to }` (masked values shown masked). */
  diff: { path: string; from: unknown; to: unknown }[];
  by: ApproverRef;
  /** Policies of the re-evaluation. */
  policies: string[];
}

/**
 * A message sent for a request in some channel, in no channel's words: what
 * a notifier needs to repaint it or reply in its thread. Slack's card is also
 * kept as `card` (every Slack path reads it there).
 */
export interface SentMessage {
  /** The channel's name: `slack`, `teams`. */
  channel: string;
  /** Where it lives: a Slack channel id, a Teams conversation id. */
  conversationId: string;
  /** Which message: a Slack `ts`, a Teams activity id. */
  messageId: string;
  /** Teams: the Bot Connector endpoint of the conversation (the activity's `serviceUrl`). */
  serviceUrl?: string;
}

/** The post-hoc review item of a break-glass approval. */
export interface PostHocReview {
  channel: string;
  ts: string;
  /** The approver (not the responder) who acknowledged it. */
  acknowledgedBy?: ApproverRef;
}

/** The request item. */
export interface RequestItem {
  pk: string;
  sk: 'REQUEST';
  intentId: string;
  agentId: string;
  source: string;
  status: RequestStatus;
  /**
   * The validated intent. Absent only on a rejected request (`rejected` set):
   * an invalid intent is denied at evaluation and never reaches a reviewer.
   */
  intent: Intent;
  /** Set when the intent failed validation; the request is denied without review. */
  rejected?: {
    reason: string;
    /** Set when the event named an intent id that another intent already holds (refused, never joined). */
    claimedIntentId?: string;
  };
  /**
   * Registered owner, canonical on-behalf-of human and derived environment,
   * established by Evaluate; what policy and the "self" checks key on.
   */
  verified?: VerifiedFacts;
  intentHash: string;
  createdAt: string;
  /** Step Functions execution that owns this request. */
  executionId?: string;
  review?: ReviewPlan;
  /** ISO time at which an unanswered review expires. */
  expiresAt?: string;
  /** Step Functions task token; never leaves AWS (never sent to Slack). */
  taskToken?: string;
  /** Where the review card lives. */
  card?: { channel: string; ts: string };
  /** Where the card waits in the card queue until the poster posts it (lambdas/shared/card-queue.ts). */
  queued?: { channel: string; sk: string };
  /** Messages sent for the request beyond Slack's `card` (a Teams card), one per channel. */
  messages?: SentMessage[];
  /** The channels of `messages` (what the one-per-channel condition reads). */
  sentIn?: string[];
  approvals: ApproverRef[];
  voterIds: string[];
  decision?: RequestDecision;
  finalizedAt?: string;
  /** Set when an approver modified the parameters; approvals count for this version only. */
  modification?: Modification;
  /** Break-glass approvals only: the item an approver must acknowledge. */
  postHoc?: PostHocReview;
  /** Break-glass approvals only: the broadcast in the card's thread, once Record has posted it. */
  breakGlassBroadcast?: { channel: string; ts: string };
  /** Set when Evaluate denied the intent for its agent's request quota (or could not check it). */
  rateLimited?: RateLimitVerdict;
}

/**
 * Why Evaluate refused an intent on its quota: the quota it is over and its
 * count (`over-quota`), or the counter's failure (`check-failed`, fail closed).
 */
export interface RateLimitVerdict {
  outcome: 'over-quota' | 'check-failed';
  reason: string;
  agentId: string;
  actionClass: string;
  /** The quota exceeded (`10/minute`), its limit and window, and the policies that set it. */
  quota?: { text: string; limit: number; windowSeconds: number; policies: string[] };
  /** This intent's count in the window. */
  count?: number;
  /** Window start and end (ISO). */
  window?: { start: string; end: string };
  /** The counter item, where the flood alert of the window is claimed. */
  counter?: { pk: string; sk: string };
  /** The counter's error (`check-failed`). */
  error?: string;
}

export { currentHash, currentIntent };

export const requestKey = (intentId: string) => ({ pk: `REQUEST#${intentId}`, sk: 'REQUEST' as const });

/** Dependencies of the store functions. */
export interface StoreDeps {
  ddb: DynamoDBDocumentClient;
  table: string;
}

const isConditionFailure = (error: unknown) =>
  error instanceof ConditionalCheckFailedException ||
  (error as { name?: string } | undefined)?.name === 'ConditionalCheckFailedException';

/** Creates the request unless one exists for the intent id. */
export async function createRequest(
  { ddb, table }: StoreDeps,
  item: Omit<RequestItem, 'pk' | 'sk' | 'approvals' | 'voterIds' | 'intent'> & { intent?: Intent },
): Promise<'created' | 'duplicate'> {
  try {
    await ddb.send(
      new PutCommand({
        TableName: table,
        Item: { ...requestKey(item.intentId), approvals: [], voterIds: [], ...item },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    return 'created';
  } catch (error) {
    if (isConditionFailure(error)) return 'duplicate';
    throw error;
  }
}

/** Reads a request (strongly consistent), or undefined. */
export async function getRequest(
  { ddb, table }: StoreDeps,
  intentId: string,
): Promise<RequestItem | undefined> {
  const out = await ddb.send(
    new GetCommand({ TableName: table, Key: requestKey(intentId), ConsistentRead: true }),
  );
  return out.Item as RequestItem | undefined;
}

/** Sets attributes on a request only while it is still PENDING; returns false when it is not. */
export async function updatePending(
  { ddb, table }: StoreDeps,
  intentId: string,
  values: Partial<
    Pick<RequestItem, 'review' | 'expiresAt' | 'taskToken' | 'card' | 'executionId' | 'queued'>
  >,
): Promise<boolean> {
  const names: Record<string, string> = { '#status': 'status' };
  const vals: Record<string, unknown> = { ':pending': 'PENDING' };
  const sets = Object.entries(values).map(([key, value], i) => {
    names[`#k${i}`] = key;
    vals[`:v${i}`] = value;
    return `#k${i} = :v${i}`;
  });
  if (sets.length === 0) return true;
  try {
    await ddb.send(
      new UpdateCommand({
        TableName: table,
        Key: requestKey(intentId),
        UpdateExpression: `SET ${sets.join(', ')}`,
        ConditionExpression: 'attribute_exists(pk) AND #status = :pending',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: vals,
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
}

/**
 * Remembers a message sent for a pending request (a Teams card), one per
 * channel: returns false when the request is no longer pending or already
 * has a message in that channel (a retried Review updates that one instead).
 */
export async function addSentMessage(
  { ddb, table }: StoreDeps,
  intentId: string,
  message: SentMessage,
): Promise<boolean> {
  try {
    await ddb.send(
      new UpdateCommand({
        TableName: table,
        Key: requestKey(intentId),
        UpdateExpression:
          'SET messages = list_append(if_not_exists(messages, :none), :message), sentIn = list_append(if_not_exists(sentIn, :none), :channels)',
        ConditionExpression: 'attribute_exists(pk) AND #status = :pending AND NOT contains(sentIn, :channel)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':none': [],
          ':message': [message],
          ':pending': 'PENDING',
          ':channel': message.channel,
          ':channels': [message.channel],
        },
      }),
    );
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
  return true;
}

/** Outcome of an approve vote. */
export type VoteResult =
  | { kind: 'counted'; request: RequestItem }
  /** The person's vote is already counted; the request (read back, still PENDING) shows by how many. */
  | { kind: 'already-voted'; request: RequestItem }
  | { kind: 'not-pending'; request: RequestItem | undefined }
  /** The intent changed (a modification) since the voter's check: the vote would approve something unseen. */
  | { kind: 'changed'; request: RequestItem };

/** How a voter's canonical email is kept among `voterIds` (beside their channel user id). */
export const voterEmailKey = (email: string) => `email:${email}`;

/** DynamoDB condition: the request's current intent (modified or not) has hash `:seen`. */
const AT_VERSION =
  '((attribute_not_exists(modification) AND intentHash = :seen) OR modification.intentHash = :seen)';

/**
 * Records one approval by a distinct person. The condition (still PENDING and
 * this person has not voted) makes double votes and votes on decided requests
 * impossible, whatever the concurrency.
 */
export async function recordApproval(
  deps: StoreDeps,
  intentId: string,
  vote: ApproverRef,
  /** Hash of the intent version the voter was checked against ({@link currentHash}). */
  seenHash: string,
): Promise<VoteResult> {
  try {
    const out = await deps.ddb.send(
      new UpdateCommand({
        TableName: deps.table,
        Key: requestKey(intentId),
        UpdateExpression:
          'SET approvals = list_append(approvals, :vote), voterIds = list_append(voterIds, :voter)',
        // A person is one voter whatever channel they vote from: their channel id and their email both count.
        ConditionExpression: `attribute_exists(pk) AND #status = :pending AND NOT contains(voterIds, :voterId) AND NOT contains(voterIds, :voterEmail) AND ${AT_VERSION}`,
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':vote': [vote],
          ':voter': [vote.slackUserId, voterEmailKey(vote.email)],
          ':voterId': vote.slackUserId,
          ':voterEmail': voterEmailKey(vote.email),
          ':pending': 'PENDING',
          ':seen': seenHash,
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return { kind: 'counted', request: out.Attributes as RequestItem };
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
    const current = await getRequest(deps, intentId);
    if (
      current?.status === 'PENDING' &&
      (current.voterIds.includes(vote.slackUserId) || current.voterIds.includes(voterEmailKey(vote.email)))
    ) {
      return { kind: 'already-voted', request: current };
    }
    if (current?.status === 'PENDING' && currentHash(current) !== seenHash)
      return { kind: 'changed', request: current };
    return { kind: 'not-pending', request: current };
  }
}

/** The outcome of a conditional write: the winner gets the item it wrote, a loser the current one. */
export type WriteOutcome =
  | { won: true; request: RequestItem }
  | { won: false; request: RequestItem | undefined };

/**
 * One conditional UpdateItem on a request. Of any number of concurrent
 * writers, one whose condition holds wins and gets the item it wrote; the
 * others get the item as it is now, to tell who won.
 */
async function conditionalUpdate(
  deps: StoreDeps,
  intentId: string,
  update: Pick<
    UpdateCommandInput,
    'UpdateExpression' | 'ConditionExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'
  >,
): Promise<WriteOutcome> {
  try {
    const out = await deps.ddb.send(
      new UpdateCommand({
        TableName: deps.table,
        Key: requestKey(intentId),
        ...update,
        ReturnValues: 'ALL_NEW',
      }),
    );
    return { won: true, request: out.Attributes as RequestItem };
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
    return { won: false, request: await getRequest(deps, intentId) };
  }
}

/**
 * Writes the final decision exactly once: the condition `status = PENDING`
 * lets one writer win; everyone else gets the winner's decision back.
 */
export async function decide(
  deps: StoreDeps,
  intentId: string,
  decision: RequestDecision,
): Promise<WriteOutcome> {
  return conditionalUpdate(deps, intentId, {
    UpdateExpression: 'SET #status = :status, decision = :decision',
    ConditionExpression: 'attribute_exists(pk) AND #status = :pending',
    ExpressionAttributeNames: { '#status': 'status' },
    ExpressionAttributeValues: { ':status': decision.status, ':decision': decision, ':pending': 'PENDING' },
  });
}

/**
 * Marks the request final as the workflow sees it. The workflow is the
 * authority: when a click raced an expiry the workflow already acted on, the
 * workflow's outcome overwrites the click's (fail closed). When the request
 * was already finalized (a replayed Record step), `won` is false and `request`
 * is the stored one.
 */
export async function finalize(
  deps: StoreDeps,
  intentId: string,
  decision: RequestDecision,
): Promise<WriteOutcome> {
  return conditionalUpdate(deps, intentId, {
    UpdateExpression: 'SET #status = :status, decision = :decision, finalizedAt = :at REMOVE taskToken',
    ConditionExpression: 'attribute_exists(pk) AND attribute_not_exists(finalizedAt)',
    ExpressionAttributeNames: { '#status': 'status' },
    ExpressionAttributeValues: {
      ':status': decision.status,
      ':decision': decision,
      ':at': decision.decidedAt,
    },
  });
}

export { isConditionFailure };

/**
 * Records a modification as the modifier's approval. Conditional on the
 * request still being PENDING at the version the modifier saw (`fromHash`),
 * so two concurrent modifications cannot both win. Earlier approvals are
 * dropped: they approved other parameters.
 */
export async function recordModification(
  deps: StoreDeps,
  intentId: string,
  modification: Modification,
): Promise<WriteOutcome> {
  return conditionalUpdate(deps, intentId, {
    UpdateExpression: 'SET modification = :modification, approvals = :votes, voterIds = :voters',
    ConditionExpression: `attribute_exists(pk) AND #status = :pending AND ${AT_VERSION}`,
    ExpressionAttributeNames: { '#status': 'status' },
    ExpressionAttributeValues: {
      ':pending': 'PENDING',
      ':seen': modification.fromHash,
      ':modification': modification,
      ':votes': [modification.by],
      // One person is one voter whatever channel they vote from (see recordApproval).
      ':voters': [modification.by.slackUserId, voterEmailKey(modification.by.email)],
    },
  });
}

/**
 * Stores where a break-glass approval's post-hoc review item was posted, once.
 * Returns false when an earlier attempt already stored one.
 */
export async function setPostHoc(
  deps: StoreDeps,
  intentId: string,
  postHoc: PostHocReview,
): Promise<boolean> {
  return setOnce(deps, intentId, 'postHoc', postHoc);
}

/** Stores where a break-glass approval's broadcast was posted, once; false when already stored. */
export async function setBreakGlassBroadcast(
  deps: StoreDeps,
  intentId: string,
  broadcast: { channel: string; ts: string },
): Promise<boolean> {
  return setOnce(deps, intentId, 'breakGlassBroadcast', broadcast);
}

async function setOnce(
  deps: StoreDeps,
  intentId: string,
  attribute: 'postHoc' | 'breakGlassBroadcast',
  value: unknown,
): Promise<boolean> {
  try {
    await deps.ddb.send(
      new UpdateCommand({
        TableName: deps.table,
        Key: requestKey(intentId),
        UpdateExpression: `SET ${attribute} = :value`,
        ConditionExpression: `attribute_exists(pk) AND attribute_not_exists(${attribute})`,
        ExpressionAttributeValues: { ':value': value },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionFailure(error)) return false;
    throw error;
  }
}

/** Acknowledges a break-glass approval's post-hoc review, once. */
export async function acknowledgePostHoc(
  deps: StoreDeps,
  intentId: string,
  by: ApproverRef,
): Promise<WriteOutcome> {
  return conditionalUpdate(deps, intentId, {
    UpdateExpression: 'SET postHoc.acknowledgedBy = :by',
    ConditionExpression:
      'attribute_exists(postHoc) AND attribute_not_exists(postHoc.acknowledgedBy) AND decision.breakGlass = :true',
    ExpressionAttributeValues: { ':by': by, ':true': true },
  });
}

/** The `Privileged Action Decided` detail for a decision. */
export function toDetail(request: RequestItem, decision: RequestDecision): DecisionDetail {
  return {
    intentId: request.intentId,
    agentId: request.agentId,
    status: decision.status,
    automatic: decision.automatic,
    approvers: decision.approvers,
    reason: decision.reason,
    intentHash: decision.intentHash,
    policies: decision.policies,
    decidedAt: decision.decidedAt,
    ...(decision.parameters ? { parameters: decision.parameters } : {}),
    ...(decision.breakGlass ? { breakGlass: true as const } : {}),
    ...(decision.grant ? { grant: decision.grant } : {}),
    traceId: requestTrace(request.intentId, request.intent?.context).traceId,
  };
}

/**
 * Requests in the given statuses (all by default), newest first: each status
 * partition of {@link REQUEST_STATUS_INDEX} is queried (keys only), then the
 * items are read with BatchGetItem (strongly consistent). No table scan.
 */
export async function listRequests(
  { ddb, table }: StoreDeps,
  statuses: readonly RequestStatus[] = REQUEST_STATUSES,
): Promise<RequestItem[]> {
  const keys: { pk: string; sk: string }[] = [];
  for (const status of statuses) {
    let start: Record<string, unknown> | undefined;
    do {
      const out = await ddb.send(
        new QueryCommand({
          TableName: table,
          IndexName: REQUEST_STATUS_INDEX,
          KeyConditionExpression: '#status = :status',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':status': status },
          ScanIndexForward: false,
          ExclusiveStartKey: start,
        }),
      );
      for (const item of out.Items ?? []) keys.push({ pk: item.pk as string, sk: item.sk as string });
      start = out.LastEvaluatedKey;
    } while (start);
  }
  const items: RequestItem[] = [];
  for (let i = 0; i < keys.length; i += 100) {
    let pending: Record<string, unknown>[] | undefined = keys.slice(i, i + 100);
    for (let attempt = 0; pending?.length; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, Math.min(1000, 50 * 2 ** attempt)));
      const out = await ddb.send(
        new BatchGetCommand({ RequestItems: { [table]: { Keys: pending, ConsistentRead: true } } }),
      );
      items.push(...((out.Responses?.[table] ?? []) as RequestItem[]));
      pending = out.UnprocessedKeys?.[table]?.Keys as Record<string, unknown>[] | undefined;
    }
  }
  return items.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.intentId.localeCompare(a.intentId));
}
