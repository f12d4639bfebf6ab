/**
 * A request as the web inbox and the approval API show it: the card's
 * derivations (the current intent after a modification, the verified facts,
 * parameters masked exactly as the card masks them) in one neutral,
 * JSON-safe shape. The task token and anything else internal to the request
 * item never leave through it.
 */
import { getAt, parameterSegments } from '../review-core/modification.js';
import { maskParameters } from '../shared/masking.js';
import { requestFacts } from '../shared/registration.js';
import { currentHash, currentIntent, type RequestItem } from '../shared/store.js';

/** A person on a request (who voted, modified or decided). */
export interface PersonView {
  email: string;
  at?: string;
}

/** One editable parameter of a pending request: its path and the value it has now (masked when the card masks it). */
export interface EditableView {
  path: string;
  /** The current value, or undefined when it is masked (never prefilled). */
  current?: unknown;
  masked: boolean;
}

/** The request as every web surface shows it. */
export interface RequestView {
  id: string;
  status: RequestItem['status'];
  agentId: string;
  action: string;
  resource: string;
  /** The environment policy saw (derived by Countersign, not the agent) and where it came from. */
  environment: { name: string; source: string; declared: string };
  onBehalfOf: string;
  owner: string;
  model: string;
  sessionId: string;
  justification: string;
  /** Parameters as they stand for approval, masked as on the card. */
  parameters: Record<string, unknown>;
  impact?: string;
  diff?: string;
  datasets?: string[];
  urgency?: string;
  /** The approver's modification, when there is one (masked values shown masked). */
  modification?: { by: PersonView; diff: { path: string; from: unknown; to: unknown }[] };
  createdAt: string;
  expiresAt?: string;
  quorum: number;
  approvals: PersonView[];
  policies: string[];
  /** The hash a decision on this rendering must name. */
  intentHash: string;
  editable: EditableView[];
  decision?: {
    status: string;
    reason: string;
    decidedAt: string;
    automatic: boolean;
    decidedBy?: string;
    breakGlass: boolean;
  };
}

/** The request as the web shows it. */
export function requestView(request: RequestItem): RequestView {
  const intent = currentIntent(request);
  const plan = request.review;
  const masked = maskParameters(intent.parameters, plan?.masked ?? []);
  const facts = requestFacts(request);
  const context = intent.context;
  const decision = request.status !== 'PENDING' ? request.decision : undefined;
  return {
    id: request.intentId,
    status: request.status,
    agentId: request.agentId,
    action: intent.action,
    resource: intent.resource,
    environment: {
      name: facts.environment,
      source: facts.environmentSource,
      declared: facts.declaredEnvironment,
    },
    onBehalfOf: facts.onBehalfOf,
    owner: facts.owner,
    model: intent.agent.model,
    sessionId: intent.agent.sessionId,
    justification: intent.justification,
    parameters: masked,
    ...(context?.impact ? { impact: context.impact } : {}),
    ...(context?.diff ? { diff: context.diff } : {}),
    ...(context?.datasets?.length ? { datasets: [...context.datasets] } : {}),
    ...(context?.urgency ? { urgency: String(context.urgency) } : {}),
    ...(request.modification
      ? {
          modification: {
            by: { email: request.modification.by.email, at: request.modification.by.at },
            diff: request.modification.diff,
          },
        }
      : {}),
    createdAt: request.createdAt,
    ...(request.expiresAt ? { expiresAt: request.expiresAt } : {}),
    quorum: plan?.quorum ?? 1,
    approvals: request.approvals.map((a) => ({ email: a.email, at: a.at })),
    policies: plan?.policies ?? [],
    intentHash: currentHash(request),
    editable:
      request.status === 'PENDING'
        ? (plan?.editable ?? []).map((path) => {
            const segments = parameterSegments(path);
            const hidden =
              JSON.stringify(getAt(masked, segments)) !== JSON.stringify(getAt(intent.parameters, segments));
            return hidden
              ? { path, masked: true }
              : { path, masked: false, current: getAt(intent.parameters, segments) };
          })
        : [],
    ...(decision
      ? {
          decision: {
            status: decision.status,
            reason: decision.reason,
            decidedAt: decision.decidedAt,
            automatic: decision.automatic,
            ...(decision.decidedBy ? { decidedBy: decision.decidedBy.email } : {}),
            breakGlass: decision.breakGlass === true,
          },
        }
      : {}),
  };
}
