/**
 * The review core's contract with its channels. A channel (Slack today; Teams,
 * the web inbox and the approval API next) verifies and parses what a person
 * sent into a {@link ReviewCommand}, hands it to the core
 * (`runReviewCommand`, ./dispatch.ts) and renders the {@link ReviewOutcome}
 * it gets back, synchronously, in its own words. The core resolves the actor,
 * applies the invariants, asks policy, records the vote, reaches the quorum,
 * decides once, completes the task token and audits; a channel never does.
 *
 * Where the core must reach the people of a request beyond the one acting
 * (repaint every message sent for it, announce a break-glass approval), it
 * calls the {@link ReviewNotifier} the channel supplies.
 */
import type { SFNClient } from '@aws-sdk/client-sfn';
import type { SignIn } from '../identity/contract.js';
import type { AuditDeps } from '../shared/audit.js';
import type { ResolvedIdentity } from '../shared/identity.js';
import type { ApproverRef, Intent } from '../shared/intent.js';
import type { IntentQuestion, IntentVerdict, PolicyDefaults } from '../shared/policy.js';
import type { VerifiedFacts } from '../shared/registration.js';
import type { Modification, RequestDecision, RequestItem, ReviewPlan, SentMessage } from '../shared/store.js';
import type { ApprovalRule } from './eligibility.js';

/** The request's shapes, for channels that render them (they never load or write a request). */
export type { Intent, Modification, RequestDecision, RequestItem, ReviewPlan, SentMessage };

/** What a person can do to a review. */
export type ReviewVerb = 'approve' | 'deny' | 'modify' | 'break-glass' | 'acknowledge';

/** Who acts, as their channel knows them. */
export interface ChannelActor {
  /** The channel's name: `slack`, `teams`, `web`, `api`; recorded in every audit record of the act. */
  channel: string;
  /** The person's id in that channel (a Slack user id). Resolved by the core, never trusted as an identity. */
  userId: string;
  /** Where the channel answers this person (a Slack channel id), when it knows. */
  replyTo?: string;
  /**
   * The IdP sign-in the channel verified for this person (web inbox, approval
   * API), when there is one. The core records its facts on the vote and checks
   * a request's step-up requirement against it; a chat click carries none.
   */
  signIn?: SignIn;
}

/** One thing a person asks of a review, in no channel's words. */
export interface ReviewCommand {
  /** The request (intent) id: never a task token. */
  requestId: string;
  verb: ReviewVerb;
  actor: ChannelActor;
  /**
   * The intent version the person saw: its full hash, or the first 16 hex
   * digits a card button carries. An approval counts only for that version.
   */
  seenHash?: string;
  /** Deny and break-glass: the person's reason (required, trimmed, at most {@link MAX_REASON} characters). */
  reason?: string;
  /** Modify: the parameters as the person wants them approved (only editable paths may differ). */
  parameters?: Record<string, unknown>;
  /** A client's key for this command: the core acts on a key once and refuses it when replayed. */
  idempotency?: string;
  /**
   * `check`: say whether this person may do this now, changing nothing but
   * the audit trail (a channel opens its form after a positive check);
   * `act` (the default): do it.
   */
  stage?: 'check' | 'act';
}

/** What became of a command, one word per case (channels count them). */
export type ReviewOutcomeCode =
  | 'unknown-request'
  | 'refused'
  | 'invalid'
  | 'replayed'
  | 'ready'
  | 'voted'
  | 'already-voted'
  | 'modified'
  | 'approved'
  | 'denied'
  | 'late'
  | 'expired'
  | 'acknowledged'
  | 'error';

/** Why a command changed nothing: shown where it came from (in place of a form, or to the person alone). */
export interface ReviewRefusal {
  /** Stable code for audit records, metrics and tests (`self-owner`, `stale-form`, `late`, ...). */
  code: string;
  /** The sentence for the person. */
  message: string;
  /** The input it concerns: `reason`, or an editable parameter path. */
  field?: string;
  /** Per-input messages, when several inputs are wrong (field -> message). */
  fields?: Record<string, string>;
  /** Where the person can do it instead (`step-up-required`: the request's page in the web inbox). */
  url?: string;
}

/** The request as it stands, for a channel to render (a card, a page). */
export interface ReviewState {
  request: RequestItem;
  /** The intent as it stands for approval (modified parameters applied). */
  intent: Intent;
  /** Its hash: what a vote on this rendering must name. */
  intentHash: string;
}

/** The core's answer to a command, returned synchronously. */
export interface ReviewOutcome {
  outcome: ReviewOutcomeCode;
  /** The request's final decision, when it has one after this command. */
  decided?: RequestDecision;
  /** Set when the command changed nothing (or lost a form's race): show it where the command came from. */
  refusal?: ReviewRefusal;
  /** Told to the actor alone after the command took effect (progress, a race lost after acting). */
  notice?: string;
  /** The request after the command, when there is one. */
  state?: ReviewState;
}

/** How a channel writes people and times in the core's sentences. */
export interface MessageStyle {
  /** A person, by their channel user id. */
  person(userId: string): string;
  /** An ISO time. */
  time(iso: string): string;
  /**
   * Agent-written text (or any value the agent chose, such as a request id),
   * shown as inert data on one line, at most about `max` characters.
   */
  value(text: string, max?: number): string;
}

/**
 * Plain text: ids and ISO times as they are; agent text as a JSON string
 * literal (quoted, control and hidden characters escaped), cut at `max`.
 */
export const PLAIN_STYLE: MessageStyle = {
  person: (userId) => userId,
  time: (iso) => iso,
  value: (text, max = 200) =>
    text.length > max
      ? `${JSON.stringify(text.slice(0, max))} (cut: ${max} of ${text.length} characters)`
      : JSON.stringify(text),
};

/**
 * What the core asks of the channels of a request. Implementations catch their
 * own delivery failures where noted: a decision stands whether or not a card
 * could be repainted.
 */
export interface ReviewNotifier {
  /** Repaints every message sent for the request from its state (with a note). Never throws. */
  requestChanged(request: RequestItem, note?: string): Promise<void>;
  /** Marks the post-hoc review item acknowledged. Never throws. */
  postHocAcknowledged(request: RequestItem, by: ApproverRef): Promise<void>;
}

/** A notifier that tells nobody (a channel with no messages to repaint). */
export const SILENT_NOTIFIER: ReviewNotifier = {
  requestChanged: async () => {},
  postHocAcknowledged: async () => {},
};

/** The logging the core needs (Powertools' Logger fits). */
export interface CoreLogger {
  info(message: string, ...extra: Record<string, unknown>[]): void;
  warn(message: string, ...extra: Record<string, unknown>[]): void;
  error(message: string, ...extra: Record<string, unknown>[]): void;
}

/** Resolves a channel's actor to a person (the channel's directory, the IdP); unresolved means refused. */
export type ActorResolver = (
  actor: ChannelActor,
  groupHandles: readonly string[],
) => Promise<ResolvedIdentity>;

/** The policy answers the core asks for, beyond the invariants. */
export interface ReviewPolicy {
  /** Who may vote beyond the invariants. @default reviewPlanRule */
  canApprove?: ApprovalRule;
  /** Further group handles whose membership the approval rule reads (the policies' `groups.contains`). */
  policyGroups?: () => Promise<readonly string[]>;
  /**
   * The approve policies' forbids for a break-glass responder (Cedar's
   * `approvePoliciesForbid`): break-glass replaces the self-approval invariant,
   * never the policies that keep someone from approving at all.
   */
  breakGlassForbids?: (input: {
    intent: Intent;
    agentId: string;
    approver: { slackUserId: string; email: string; groups: string[] };
    verified?: VerifiedFacts;
  }) => Promise<{ reason: string; policies: string[] } | undefined>;
  /**
   * Policy evaluation of a modified intent (Cedar's `evaluateIntent`). Without
   * it every modification is refused (fail closed).
   */
  evaluateIntent?: (
    input: IntentQuestion,
    defaults: PolicyDefaults,
  ) => IntentVerdict | Promise<IntentVerdict>;
  /** Default approver group handle for re-evaluation. @default the plan's first group */
  approverGroup?: string;
}

/** Dependencies of the review core. */
export interface ReviewCoreDeps extends AuditDeps, ReviewPolicy {
  sfn: Pick<SFNClient, 'send'>;
  logger: CoreLogger;
  resolveActor: ActorResolver;
  notifier: ReviewNotifier;
  /** @default PLAIN_STYLE */
  style?: MessageStyle;
  /** Base URL of the web inbox, where a step-up request is approved after a fresh sign-in. */
  webInboxUrl?: string;
}

/** Longest reason accepted. */
export const MAX_REASON = 2000;
