/**
 * The review core's front door: a {@link ReviewCommand} in, a
 * {@link ReviewOutcome} out, synchronously, whatever channel it came from.
 * One small function per verb (./approve.ts, ./deny.ts, ./modify.ts,
 * ./break-glass.ts, ./acknowledge.ts); the dispatcher only picks it, guards
 * replays of a client's idempotency key, and turns any error into an outcome
 * that approved nothing (fail closed).
 */
import { sha256Hex } from '../shared/canonical.js';
import { getRequest } from '../shared/store.js';
import { acknowledge } from './acknowledge.js';
import { processApprove } from './approve.js';
import { breakGlass } from './break-glass.js';
import type {
  ChannelActor,
  ReviewCommand,
  ReviewCoreDeps,
  ReviewOutcome,
  ReviewState,
  ReviewVerb,
} from './contract.js';
import { deny } from './deny.js';
import { modify } from './modify.js';
import { afterAdmission, prepare } from './prepare.js';
import { claimOnce } from './replay.js';
import { refuse, stateOf } from './request.js';

/** Each verb's act; Deny, Modify and Break glass after their filled-in command is checked in full. */
const VERBS: Record<ReviewVerb, (deps: ReviewCoreDeps, command: ReviewCommand) => Promise<ReviewOutcome>> = {
  approve: processApprove,
  deny: afterAdmission(deny),
  modify: afterAdmission(modify),
  'break-glass': afterAdmission(breakGlass),
  acknowledge,
};

/** How long an idempotency key is remembered. */
export const IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60;

/** What the person is told when the core failed: nothing was approved. */
export const APOLOGY =
  'Countersign could not process this and approved nothing. Try again in a moment; if the card does not change, this review ends as a denial when it expires.';

/** An error as a log line wants it. */
export const describeError = (error: unknown) =>
  error instanceof Error ? { name: error.name, message: error.message, stack: error.stack } : String(error);

/** Runs one command. Never throws: an error is an `error` outcome, and nothing was approved. */
export async function runReviewCommand(deps: ReviewCoreDeps, command: ReviewCommand): Promise<ReviewOutcome> {
  try {
    if (!(command.verb in VERBS)) {
      return {
        outcome: 'invalid',
        refusal: { code: 'unknown-verb', message: `Unknown verb ${String(command.verb)}.` },
      };
    }
    if (command.idempotency !== undefined) {
      const key = {
        pk: `COMMAND#${sha256Hex(`${command.actor.channel}:${command.idempotency}`)}`,
        sk: 'COMMAND',
      };
      const expires = Math.floor(deps.now().getTime() / 1000) + IDEMPOTENCY_TTL_SECONDS;
      if (!(await claimOnce(deps, key, expires))) {
        return {
          outcome: 'replayed',
          refusal: {
            code: 'replayed',
            message: 'This command was already received; it is not applied twice.',
          },
        };
      }
    }
    const outcome =
      command.stage === 'check' && command.verb !== 'approve' && command.verb !== 'acknowledge'
        ? await prepare(deps, command)
        : await VERBS[command.verb](deps, command);
    deps.logger.info('review command handled', {
      outcome: outcome.outcome,
      requestId: command.requestId,
      channel: command.actor.channel,
      user: command.actor.userId,
      verb: command.verb,
    });
    return outcome;
  } catch (error) {
    deps.logger.error('review command failed; nothing was approved', {
      error: describeError(error),
      requestId: command.requestId,
      channel: command.actor.channel,
    });
    return { outcome: 'error', refusal: { code: 'error', message: APOLOGY } };
  }
}

/** The request as a channel renders it (read-only), or undefined when there is none. */
export async function reviewState(deps: ReviewCoreDeps, requestId: string): Promise<ReviewState | undefined> {
  const request = await getRequest(deps, requestId);
  return request?.intent ? stateOf(request) : undefined;
}

/**
 * Audits a command its channel could not verify (a tampered or expired form):
 * on the request it claims to be for, when that exists. Changes nothing else.
 */
export async function refuseUnverified(
  deps: ReviewCoreDeps,
  command: { requestId: string | undefined; verb: ReviewVerb; actor: ChannelActor },
  reason: string,
): Promise<void> {
  const request = command.requestId
    ? await getRequest(deps, command.requestId).catch(() => undefined)
    : undefined;
  if (request) await refuse(deps, request, command, undefined, 'bad-metadata', reason);
  else deps.logger.warn('unverified command refused', { reason, claimed: command.requestId });
}
