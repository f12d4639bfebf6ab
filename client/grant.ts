/**
 * Consuming a grant, right before the approved action runs. Through the status
 * API (`POST /grants/{grantId}/consume`, SigV4, the grant must be the calling
 * agent's), or — in the sandbox and tests — directly against the table with the
 * same single conditional write the API uses.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { AGENT_SOURCE_PREFIX } from '../lambdas/shared/intent.js';
import { StatusApiError } from './errors.js';
import { type HttpTarget, signedRequest } from './signed-fetch.js';

/** Why a consume was refused. */
export type ConsumeFailure = 'not-found' | 'already-consumed' | 'expired';

/** A consumed grant. */
export interface ConsumedGrant {
  grantId: string;
  intentId: string;
  intentHash: string;
  expiresAt: string;
  consumedAt: string;
}

/** Result of {@link consumeGrant}. */
export type ConsumeGrantResult =
  | { ok: true; grant: ConsumedGrant }
  | { ok: false; reason: ConsumeFailure; message: string };

/**
 * Direct table access (sandbox and tests): the same conditional write and
 * audit record as the API (the table's stream archives the record to S3).
 */
export interface DirectGrantStore {
  ddb: DynamoDBDocumentClient;
  table: string;
  /** @default () => new Date() */
  now?: () => Date;
}

/** Options of {@link consumeGrant}: the API (`statusUrl`) or the table (`direct`). */
export type ConsumeGrantOptions =
  | (HttpTarget & { direct?: undefined; agentId?: string })
  | {
      direct: DirectGrantStore;
      /** The consuming agent: the grant must be its own, and the audit names it. */
      agentId: string;
    };

/**
 * Consumes a grant: one conditional write, so of any number of concurrent
 * consumes exactly one gets `ok: true`; a second consume, or one after expiry,
 * gets `ok: false` with the reason. Run the action only on `ok: true`.
 *
 * @throws StatusApiError when the API refuses the caller (403) or fails
 */
export async function consumeGrant(
  grantId: string,
  options: ConsumeGrantOptions,
): Promise<ConsumeGrantResult> {
  if (options.direct) {
    const { consumeGrant: consume } = await import('../lambdas/shared/grants.js');
    const d = options.direct;
    const result = await consume(
      {
        ddb: d.ddb,
        table: d.table,
        now: d.now ?? (() => new Date()),
      },
      grantId,
      {
        agentId: options.agentId,
        actor: {
          type: 'agent',
          agentId: options.agentId,
          source: `${AGENT_SOURCE_PREFIX}${options.agentId}`,
        },
      },
    );
    if (result.ok) {
      const g = result.grant;
      return {
        ok: true,
        grant: {
          grantId: g.grantId,
          intentId: g.intentId,
          intentHash: g.intentHash,
          expiresAt: g.expiresAt,
          consumedAt: g.consumedAt!,
        },
      };
    }
    return {
      ok: false,
      reason: result.reason === 'not-yours' ? 'not-found' : result.reason,
      message: result.message,
    };
  }

  const response = await signedRequest(options, 'POST', `/grants/${encodeURIComponent(grantId)}/consume`, {});
  const body = (response.json ?? {}) as Record<string, unknown>;
  const message = typeof body.message === 'string' ? body.message : response.text.slice(0, 300);
  switch (response.status) {
    case 200:
      return { ok: true, grant: body.grant as ConsumedGrant };
    case 404:
      if (body.error !== 'not_found') {
        throw new StatusApiError(
          `status API has no grant endpoint at ${options.statusUrl} (HTTP 404): in the sandbox set COUNTERSIGN_TABLE_NAME to consume directly`,
          404,
        );
      }
      return { ok: false, reason: 'not-found', message };
    case 409:
      return { ok: false, reason: 'already-consumed', message };
    case 410:
      return { ok: false, reason: 'expired', message };
    default:
      throw new StatusApiError(`grant API: HTTP ${response.status}: ${message}`, response.status);
  }
}
