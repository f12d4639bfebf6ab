/** Acknowledge: an approver other than the responder signs off a break-glass approval afterwards. */
import { acknowledgePostHoc, getRequest } from '../shared/store.js';
import type { ReviewCommand, ReviewCoreDeps, ReviewOutcome } from './contract.js';
import { approverRef, audit, checkActor, stateOf, styleOf } from './request.js';

/** An approver acknowledges a break-glass approval's post-hoc review. */
export async function acknowledge(deps: ReviewCoreDeps, command: ReviewCommand): Promise<ReviewOutcome> {
  const request = await getRequest(deps, command.requestId);
  if (!request?.decision?.breakGlass || !request.postHoc || !request.review) {
    return {
      outcome: 'refused',
      refusal: {
        code: 'nothing-to-acknowledge',
        message: 'There is no break-glass approval to acknowledge here.',
      },
      ...(request ? { state: stateOf(request) } : {}),
    };
  }
  if (request.postHoc.acknowledgedBy) {
    const style = styleOf(deps);
    return {
      outcome: 'late',
      refusal: {
        code: 'late',
        message: `Already acknowledged by ${style.person(request.postHoc.acknowledgedBy.slackUserId)} at ${style.time(request.postHoc.acknowledgedBy.at)}.`,
      },
      state: stateOf(request),
    };
  }
  const checked = await checkActor(deps, request, command);
  if (!('ok' in checked)) {
    return {
      outcome: checked.outcome,
      refusal: { code: checked.code ?? checked.outcome, message: checked.message },
      state: stateOf(request),
    };
  }
  const by = approverRef(checked.voter, deps.now().toISOString());
  const won = await acknowledgePostHoc(deps, request.intentId, by);
  if (!won.won) {
    return {
      outcome: 'late',
      refusal: { code: 'late', message: 'Someone acknowledged it at the same moment.' },
      state: stateOf(request),
    };
  }
  await audit(deps, request, command, checked.voter, 'acknowledged', {
    breakGlass: true,
    postHocReview: 'acknowledged',
    via: checked.voter.via,
  });
  await deps.notifier.postHocAcknowledged(won.request, by);
  await deps.notifier.requestChanged(won.request);
  return { outcome: 'acknowledged', state: stateOf(won.request), decided: request.decision };
}
