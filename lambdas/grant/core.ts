/**
 * Grant API: `POST /grants/{grantId}/consume`. The calling agent spends one of
 * its own grants with a single conditional write (see shared/grants.ts):
 * 200 consumed, 409 already consumed, 410 expired, 404 unknown or another
 * agent's grant (indistinguishable on purpose), 403 not an agent.
 */

import type { AuditDeps } from '../shared/audit.js';
import { type ConsumeRefusal, consumeGrant } from '../shared/grants.js';
import { AGENT_SOURCE_PREFIX } from '../shared/intent.js';
import { type AgentRoles, type ApiAnswer, agentForCaller, notAnAgent } from '../status/caller.js';

/** Dependencies of {@link consumeForCaller}. */
export interface GrantDeps extends AuditDeps {
  agentRoles: AgentRoles;
}

const REFUSAL_STATUS = { 'not-found': 404, 'not-yours': 404, 'already-consumed': 409, expired: 410 } as const;
const REFUSAL_ERROR = {
  'not-found': 'not_found',
  'not-yours': 'not_found',
  'already-consumed': 'already_consumed',
  expired: 'expired',
} as const;

/** The API answer of a refused consume (another agent's grant answers like a missing one). */
export function refusalAnswer(result: { reason: ConsumeRefusal; message: string }): ApiAnswer {
  return {
    statusCode: REFUSAL_STATUS[result.reason],
    body: { error: REFUSAL_ERROR[result.reason], message: result.message },
  };
}

/** Consumes `grantId` on behalf of the caller's agent. */
export async function consumeForCaller(
  deps: GrantDeps,
  input: { grantId: string; callerArn: string | null | undefined },
): Promise<ApiAnswer> {
  const agentId = agentForCaller(deps.agentRoles, input.callerArn);
  if (!agentId) return notAnAgent(input.callerArn);
  const result = await consumeGrant(deps, input.grantId, {
    agentId,
    actor: { type: 'agent', agentId, source: `${AGENT_SOURCE_PREFIX}${agentId}` },
  });
  if (!result.ok) return refusalAnswer(result);
  const g = result.grant;
  return {
    statusCode: 200,
    body: {
      consumed: true,
      grant: {
        grantId: g.grantId,
        intentId: g.intentId,
        intentHash: g.intentHash,
        expiresAt: g.expiresAt,
        consumedAt: g.consumedAt,
      },
    },
  };
}
