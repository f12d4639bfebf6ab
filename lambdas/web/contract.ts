/**
 * What the web channel (the inbox and the approval API) needs, and how the
 * core's outcomes read in HTTP. The channel verifies and parses; the review
 * core (`runReviewCommand`) decides.
 */
import { z } from 'zod';
import type { TokenVerifier } from '../identity/contract.js';
import { MAX_REASON, type ReviewCoreDeps, type ReviewOutcome } from '../review-core/contract.js';
import type { SignInFlow } from './sign-in.js';

/** Dependencies of the web channel. */
export interface WebDeps {
  /** The review core, resolving actors from their sign-in (`signInResolver`). */
  core: ReviewCoreDeps;
  /** Verifies API bearer tokens (and, inside {@link signIn}, ID tokens). */
  verifier: TokenVerifier;
  signIn: SignInFlow;
  /** Key of the session and sign-in state cookies (from Secrets Manager). */
  sessionKey: string;
  /** The inbox's public origin (`https://…`): a POST from any other origin is forgery. */
  origin: string;
}

/** Statuses the API lists by. */
export const LISTED_STATUSES = ['PENDING', 'APPROVED', 'DENIED', 'EXPIRED', 'CANCELLED'] as const;

/** `POST /v1/requests/{id}/decision`: what the caller decides, on the version it saw. */
export const decisionBodySchema = z
  .strictObject({
    decision: z.enum(['approve', 'deny', 'modify']),
    reason: z.string().max(MAX_REASON).optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    intentHash: z.string().regex(/^sha256:[0-9a-f]{64}$/, 'intentHash must be sha256: and 64 hex digits'),
  })
  .superRefine((body, ctx) => {
    if (body.decision === 'deny' && !body.reason?.trim())
      ctx.addIssue({ code: 'custom', path: ['reason'], message: 'a deny needs a reason' });
    if (body.decision === 'modify' && !body.parameters)
      ctx.addIssue({ code: 'custom', path: ['parameters'], message: 'a modify needs the parameters' });
    if (body.decision !== 'modify' && body.parameters)
      ctx.addIssue({ code: 'custom', path: ['parameters'], message: 'parameters belong to modify only' });
  });

/** The decision body, parsed. */
export type DecisionBody = z.infer<typeof decisionBodySchema>;

/** Refusal codes that mean "you decided on a version that is no longer the request". */
const STALE = new Set(['stale-form']);

/**
 * The HTTP status of a core outcome: 200 when it took effect, 400 for bad
 * input, 403 for a refusal, 409 for a stale version, a decided, expired or
 * replayed request, 404 for an unknown one, 500 when the core failed (and
 * approved nothing).
 */
export function statusOf(outcome: ReviewOutcome): number {
  switch (outcome.outcome) {
    case 'approved':
    case 'denied':
    case 'modified':
    case 'voted':
    case 'already-voted':
    case 'acknowledged':
    case 'ready':
      return 200;
    case 'invalid':
      return 400;
    case 'unknown-request':
      return 404;
    case 'late':
    case 'expired':
    case 'replayed':
      return 409;
    case 'refused':
      return STALE.has(outcome.refusal?.code ?? '') ? 409 : 403;
    default:
      return 500;
  }
}
