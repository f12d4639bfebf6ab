/**
 * The checks before Deny, Modify and Break glass. A channel that asks for a
 * reason or new parameters first checks (`stage: "check"`: nothing changes but
 * the audit trail of a refusal), then sends the filled-in command, which is
 * checked again in full before it acts: the request may have moved on since.
 */

import type { ResolvedIdentity } from '../shared/identity.js';
import type { RequestItem } from '../shared/store.js';
import { MAX_REASON, type ReviewCommand, type ReviewCoreDeps, type ReviewOutcome } from './contract.js';
import {
  checkActor,
  openRequest,
  refuseStale,
  seesCurrentIntent,
  stateOf,
  stopped,
  type Voter,
} from './request.js';

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
    const reason =
      seen === undefined
        ? 'the command does not name the version of the request it was made on; look at the card again'
        : 'the request changed since this form was opened (it was modified); close it and look at the card again';
    return { outcome: await refuseStale(deps, request, command, reason) };
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

/** A verb's act on an admitted command. */
export type AdmittedAct = (
  deps: ReviewCoreDeps,
  command: ReviewCommand,
  admitted: Admitted,
) => Promise<ReviewOutcome>;

/** The verb that checks a filled-in command in full ({@link admit}), then acts. */
export const afterAdmission =
  (act: AdmittedAct) =>
  async (deps: ReviewCoreDeps, command: ReviewCommand): Promise<ReviewOutcome> => {
    const checked = await admit(deps, command);
    return 'outcome' in checked ? checked.outcome : act(deps, command, checked.admitted);
  };
