/**
 * The checks before Deny, Modify and Break glass. A channel that asks for a
 * reason or new parameters first checks (`stage: "check"`: nothing changes but
 * the audit trail of a refusal), then sends the filled-in command, which is
 * checked again in full before it acts: the request may have moved on since.
 */

import type { ResolvedIdentity } from '../shared/identity.js';
import { currentHash, type RequestItem } from '../shared/store.js';
import { seesCurrentIntent } from './approve.js';
import { MAX_REASON, type ReviewCommand, type ReviewCoreDeps, type ReviewOutcome } from './contract.js';
import { checkActor, openRequest, refuse, stateOf, type Voter } from './request.js';

/** Why a checked command may not go on, as an outcome. */
const stopped = (
  stop: { outcome: ReviewOutcome['outcome']; message: string; code?: string },
  request?: RequestItem,
): ReviewOutcome => ({
  outcome: stop.outcome,
  refusal: { code: stop.code ?? stop.outcome, message: stop.message },
  ...(request ? { state: stateOf(request) } : {}),
});

/** Deny, Modify, Break glass before the form: may this person do it now? `ready` when they may. */
export async function prepare(deps: ReviewCoreDeps, command: ReviewCommand): Promise<ReviewOutcome> {
  const open = await openRequest(deps, command);
  if ('outcome' in open) return stopped(open, open.request);
  const request = open.request;
  if (command.verb === 'modify' && !request.review?.editable.length) {
    return stopped(
      { outcome: 'refused', code: 'not-editable', message: 'Policy allows no changes to this request.' },
      request,
    );
  }
  const checked = await checkActor(deps, request, command);
  if (!('ok' in checked)) return stopped(checked, request);
  return { outcome: 'ready', state: stateOf(request) };
}

/** A filled-in Deny, Modify or Break glass, admitted: the request, the person, their reason. */
export interface Admitted {
  request: RequestItem;
  voter: Voter;
  identity: ResolvedIdentity;
  reason: string;
}

/** Checks a filled-in command again in full: open, the version seen, the reason, the person. */
export async function admit(
  deps: ReviewCoreDeps,
  command: ReviewCommand,
): Promise<{ admitted: Admitted } | { outcome: ReviewOutcome }> {
  const open = await openRequest(deps, command);
  if ('outcome' in open) return { outcome: stopped(open, open.request) };
  const request = open.request;
  const seen = command.seenHash;
  if (seen === undefined ? command.verb !== 'deny' : !seesCurrentIntent(request, seen)) {
    const message = await refuse(
      deps,
      request,
      command,
      undefined,
      'stale-form',
      seen === undefined
        ? 'the command does not name the version of the request it was made on; look at the card again'
        : 'the request changed since this form was opened (it was modified); close it and look at the card again',
      seen === undefined ? {} : { data: { seenHash: seen, currentHash: currentHash(request) } },
    );
    return { outcome: stopped({ outcome: 'refused', code: 'stale-form', message }, request) };
  }

  // Validate the input before anything else, so an empty reason changes nothing.
  let reason = '';
  if (command.verb !== 'modify') {
    reason = (command.reason ?? '').trim();
    const problem = !reason
      ? 'A reason is required.'
      : reason.length > MAX_REASON
        ? `At most ${MAX_REASON} characters.`
        : undefined;
    if (problem)
      return {
        outcome: {
          outcome: 'invalid',
          refusal: { code: 'invalid-input', message: problem, field: 'reason' },
          state: stateOf(request),
        },
      };
  }
  const who = await checkActor(deps, request, command);
  if (!('ok' in who)) return { outcome: stopped(who, request) };
  return { admitted: { request, voter: who.voter, identity: who.identity, reason } };
}
