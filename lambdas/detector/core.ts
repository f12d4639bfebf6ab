/**
 * The unapproved-action detector: CloudTrail management events of the
 * catalog's privileged actions ("AWS API Call via CloudTrail" on the
 * account's default bus) are judged one by one.
 *
 * A call is **approved** when all of these hold: it was made by the executor
 * role the catalog names for the action (the exact role ARN, account
 * included); its session carries a `SourceIdentity` (which STS keeps through
 * role chaining) naming a request that is APPROVED for this very action;
 * that request's grant was consumed; the call happened between the consume
 * and the grant's expiry; and its request parameters are the approved ones.
 * A call by one of Countersign's own (non-executor) roles is recognised and
 * left alone. Everything else is an **unapproved action**: one audit record on
 * its own chain (`unapproved-<eventID>`, in the same hash-chained trail), an
 * alert card in the approvals channel with every CloudTrail-supplied value
 * rendered inert, and one metric datum (its alarm is in lib/).
 */
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { WebClient } from '@slack/web-api';
import { type Catalog, trailParametersFor } from '../grant/catalog.js';
import { approvedIntentOf } from '../grant/exchange.js';
import { plainValue } from '../shared/agent-text.js';
import { type AuditDeps, appendAudit } from '../shared/audit.js';
import { canonicalJson, sha256Hex } from '../shared/canonical.js';
import { getGrant } from '../shared/grants.js';
import { getRequest, isConditionFailure } from '../shared/store.js';
import { principalKey } from '../status/caller.js';

/** EventBridge's detail type of CloudTrail management events. */
export const CLOUDTRAIL_DETAIL_TYPE = 'AWS API Call via CloudTrail';

/** Dependencies of {@link judge} and {@link handleCloudTrailEvent}. */
export interface DetectorDeps extends AuditDeps {
  catalog: Catalog;
  /** Executor name → role ARN. */
  executors: Readonly<Record<string, string>>;
  /** Countersign's own roles other than executors (handlers): recognised, never alerted. */
  ownRoles: readonly string[];
  /** The approvals channel and a client for it. */
  slack: () => Promise<Pick<WebClient, 'chat'>>;
  channel: string;
  /** Counts one unapproved action (the alarm's metric). */
  countUnapproved: () => void;
  warn: (message: string, extra?: Record<string, unknown>) => void;
}

/** The parts of a CloudTrail event the detector reads (everything in it is untrusted). */
interface TrailDetail {
  eventID?: unknown;
  eventTime?: unknown;
  eventSource?: unknown;
  eventName?: unknown;
  awsRegion?: unknown;
  recipientAccountId?: unknown;
  errorCode?: unknown;
  userIdentity?: {
    type?: unknown;
    arn?: unknown;
    accountId?: unknown;
    accessKeyId?: unknown;
    sessionContext?: { sourceIdentity?: unknown; sessionIssuer?: { arn?: unknown } };
  };
  requestParameters?: unknown;
}

/** The verdict on one CloudTrail event. */
export type Verdict =
  | { kind: 'ignored'; reason: string }
  | { kind: 'own'; role: string }
  | { kind: 'approved'; requestId: string }
  | { kind: 'unapproved'; reasons: string[] };

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

/** The principal's role (or user) key, only when the event's identity fields agree with each other. */
function callerKey(identity: TrailDetail['userIdentity']): string | undefined {
  const arn = str(identity?.arn);
  const key = arn ? principalKey(arn) : undefined;
  const issuer = str(identity?.sessionContext?.sessionIssuer?.arn);
  if (issuer !== undefined && (principalKey(issuer) ?? '') !== key) return undefined;
  return key;
}

/** Judges one CloudTrail event. Pure but for the table reads of the request and its grant. */
export async function judge(deps: DetectorDeps, detail: TrailDetail): Promise<Verdict> {
  const eventSource = str(detail.eventSource);
  const eventName = str(detail.eventName);
  const entries = Object.entries(deps.catalog.actions).filter(
    ([, e]) => e.trail.eventSource === eventSource && e.trail.eventName === eventName,
  );
  if (entries.length === 0) return { kind: 'ignored', reason: 'not a catalog action' };
  const caller = callerKey(detail.userIdentity);
  const executorKeys = new Set(Object.values(deps.executors).map((arn) => principalKey(arn)));
  const own =
    caller && !executorKeys.has(caller) ? deps.ownRoles.find((r) => principalKey(r) === caller) : undefined;
  if (own) return { kind: 'own', role: own };

  const reasons: string[] = [];
  if (!caller) reasons.push('the caller is not an IAM role or user, or its identity fields disagree');
  else if (!executorKeys.has(caller)) reasons.push('the caller is not a Countersign executor role');
  const sourceIdentity = str(detail.userIdentity?.sessionContext?.sourceIdentity);
  if (!sourceIdentity) {
    reasons.push('the session carries no SourceIdentity');
    return { kind: 'unapproved', reasons };
  }
  const request = await getRequest(deps, sourceIdentity).catch(() => undefined);
  const approved = request ? approvedIntentOf(request) : undefined;
  if (!request || !approved) {
    reasons.push('the SourceIdentity names no approved request');
    return { kind: 'unapproved', reasons };
  }
  const entry = Object.hasOwn(deps.catalog.actions, approved.action)
    ? deps.catalog.actions[approved.action]
    : undefined;
  if (!entry || entry.trail.eventSource !== eventSource || entry.trail.eventName !== eventName) {
    reasons.push('the approved request is for another action');
    return { kind: 'unapproved', reasons };
  }
  const executorArn = deps.executors[entry.executor];
  if (caller && executorKeys.has(caller) && (!executorArn || principalKey(executorArn) !== caller)) {
    reasons.push("the caller is not the approved action's executor role");
  }
  const grantId = request.decision?.grant?.grantId;
  const grant = grantId ? await getGrant(deps, grantId) : undefined;
  const at = str(detail.eventTime);
  const time = at ? Date.parse(at) : Number.NaN;
  if (!grant?.consumedAt) reasons.push('the grant of the approved request was never consumed');
  else if (Number.isNaN(time)) reasons.push('the event has no valid time');
  // CloudTrail records seconds; the consume has milliseconds.
  else if (
    time < Math.floor(Date.parse(grant.consumedAt) / 1000) * 1000 ||
    time >= Date.parse(grant.expiresAt)
  ) {
    reasons.push('the call is outside the grant window');
  }
  const expected = trailParametersFor(entry, approved);
  const actual = (typeof detail.requestParameters === 'object' && detail.requestParameters) || {};
  if (!expected.ok) reasons.push('the approved parameters cannot be matched');
  else {
    for (const [key, value] of Object.entries(expected.values)) {
      if ((actual as Record<string, unknown>)[key] !== value)
        reasons.push(`requestParameters.${key} is not the approved value`);
    }
  }
  return reasons.length > 0
    ? { kind: 'unapproved', reasons }
    : { kind: 'approved', requestId: request.intentId };
}

/** The audit chain of one unapproved action. */
export const unapprovedRequestId = (eventId: string) => `unapproved-${sha256Hex(eventId).slice(0, 32)}`;

/** Handles one EventBridge event: judge it, then audit, alert and count an unapproved action once. */
export async function handleCloudTrailEvent(
  deps: DetectorDeps,
  event: { 'detail-type'?: unknown; detail?: unknown },
): Promise<Verdict & { duplicate?: true }> {
  if (event['detail-type'] !== CLOUDTRAIL_DETAIL_TYPE || typeof event.detail !== 'object' || !event.detail) {
    return { kind: 'ignored', reason: 'not a CloudTrail API call event' };
  }
  const detail = event.detail as TrailDetail;
  const verdict = await judge(deps, detail);
  if (verdict.kind !== 'unapproved') return verdict;

  const eventId = str(detail.eventID) ?? `no-event-id-${sha256Hex(canonicalJson(detail))}`;
  const requestId = unapprovedRequestId(eventId);
  const key = { pk: `UNAPPROVED#${eventId.slice(0, 256)}`, sk: 'UNAPPROVED' };
  // EventBridge delivers at least once, and a failed invocation is retried: one marker per
  // CloudTrail event id remembers which of the two steps (audit, alert) already happened.
  let marker: { createdAt: string; auditedAt?: string; alertedAt?: string };
  try {
    marker = { createdAt: deps.now().toISOString() };
    await deps.ddb.send(
      new PutCommand({
        TableName: deps.table,
        Item: { ...key, requestId, ...marker },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  } catch (error) {
    if (!isConditionFailure(error)) throw error;
    const out = await deps.ddb.send(
      new GetCommand({ TableName: deps.table, Key: key, ConsistentRead: true }),
    );
    marker = out.Item as typeof marker;
    if (marker.auditedAt && marker.alertedAt) return { ...verdict, duplicate: true };
  }
  const mark = (step: 'auditedAt' | 'alertedAt') =>
    deps.ddb.send(
      new UpdateCommand({
        TableName: deps.table,
        Key: key,
        UpdateExpression: `SET ${step} = :now`,
        ExpressionAttributeValues: { ':now': deps.now().toISOString() },
      }),
    );
  const facts = factsOf(detail, eventId);
  if (!marker.auditedAt) {
    await appendAudit(
      deps,
      { requestId, createdAt: marker.createdAt },
      {
        kind: 'unapproved-action',
        actor: { type: 'system', component: 'detector' },
        intentHash: `sha256:${sha256Hex(canonicalJson(detail))}`,
        data: { ...facts, reasons: verdict.reasons },
      },
    );
    await mark('auditedAt');
    deps.countUnapproved();
  }
  try {
    const slack = await deps.slack();
    await slack.chat.postMessage({ channel: deps.channel, ...alertCard(facts, verdict.reasons, requestId) });
  } catch (error) {
    // The audit record and the metric (and its alarm) stand; the retried invocation posts the card.
    deps.warn('unapproved-action alert not posted', { requestId, error: (error as Error).message });
    throw error;
  }
  await mark('alertedAt');
  return verdict;
}

/** What the audit record and the card say about the call (CloudTrail's values, cut to size). */
export interface ActionFacts {
  eventId: string;
  eventTime: string;
  action: string;
  principal: string;
  account: string;
  region: string;
  sourceIdentity: string;
  accessKeyId: string;
  requestParameters: string;
  errorCode?: string;
}

function factsOf(detail: TrailDetail, eventId: string): ActionFacts {
  const cut = (v: unknown, max = 512) => (str(v) ?? '(none)').slice(0, max);
  const errorCode = str(detail.errorCode);
  return {
    eventId: eventId.slice(0, 256),
    eventTime: cut(detail.eventTime, 64),
    action: `${cut(detail.eventSource, 128)} ${cut(detail.eventName, 128)}`,
    principal: cut(detail.userIdentity?.arn),
    account: cut(detail.recipientAccountId ?? detail.userIdentity?.accountId, 64),
    region: cut(detail.awsRegion, 64),
    sourceIdentity: cut(detail.userIdentity?.sessionContext?.sourceIdentity, 128),
    accessKeyId: cut(detail.userIdentity?.accessKeyId, 128),
    requestParameters: (JSON.stringify(detail.requestParameters ?? null) ?? 'null').slice(0, 1500),
    ...(errorCode ? { errorCode: errorCode.slice(0, 128) } : {}),
  };
}

/**
 * The alert card. Countersign's own words are mrkdwn labels; every value
 * from CloudTrail (which an attacker shapes: role and session names, request
 * parameters) is a `plain_text` field with hidden characters made visible.
 */
export function alertCard(facts: ActionFacts, reasons: readonly string[], requestId: string) {
  const field = (label: string, value: string) => [
    { type: 'mrkdwn' as const, text: `*${label}*` },
    plainValue(value, 300).value,
  ];
  return {
    text: 'Countersign: unapproved privileged action detected',
    blocks: [
      {
        type: 'header',
        text: { type: 'plain_text', text: ':rotating_light: Unapproved privileged action', emoji: true },
      },
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: 'A privileged call ran without a Countersign approval that covers it. Values below are quoted from CloudTrail as data.',
        },
      },
      { type: 'section', fields: [...field('Who', facts.principal), ...field('What', facts.action)] },
      {
        type: 'section',
        fields: [...field('Where', `${facts.account} ${facts.region}`), ...field('When', facts.eventTime)],
      },
      {
        type: 'section',
        fields: [
          ...field('CloudTrail event id', facts.eventId),
          ...field('Source identity', facts.sourceIdentity),
        ],
      },
      {
        type: 'section',
        text: plainValue(`requestParameters: ${facts.requestParameters}`, 2000, 'lines').value,
      },
      {
        type: 'context',
        elements: [
          {
            type: 'mrkdwn',
            text: `Why: ${reasons.join('; ')}${facts.errorCode ? '; AWS refused the call' : ''}. Audit chain \`${requestId}\`.`,
          },
        ],
      },
    ],
  };
}
