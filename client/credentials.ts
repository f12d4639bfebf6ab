/**
 * Executor credentials for an approved AWS action: the agent trades its
 * single-use grant (`POST /grants/{grantId}/credentials` on the status API,
 * SigV4 as the agent's own role) for STS credentials whose session policy
 * allows exactly the approved call, until the grant expires.
 *
 * ```ts
 * const credentials = credentialsFor(decision, { statusUrl });
 * await new IAMClient({ credentials }).send(new AttachRolePolicyCommand(approved));
 * ```
 *
 * The exchange happens once, on the first resolution; the provider then
 * returns the same credentials until they expire and never asks again (the
 * grant is spent). See docs/enforcement.md.
 */
import type { AwsCredentialIdentity } from '@smithy/types';
import type { DecisionDetail } from '../lambdas/shared/intent.js';
import { StatusApiError } from './errors.js';
import { type HttpTarget, signedRequest } from './signed-fetch.js';

/** What the exchange returns besides the credentials. */
export interface ExecutorSession {
  credentials: AwsCredentialIdentity & { expiration?: Date };
  roleArn: string;
  sourceIdentity: string;
  sessionPolicy: unknown;
  grant: { grantId: string; intentId: string; expiresAt: string; consumedAt: string };
}

/** Why the exchange was refused: `no_executor` (no catalog entry: run it without minted credentials), `not_scopable`, `already_consumed`, `expired`, `not_found`, `not_approved`. */
export class CredentialsRefusedError extends Error {
  override name = 'CredentialsRefusedError';
  constructor(
    message: string,
    readonly reason: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/**
 * Exchanges a grant for executor credentials, once.
 * @throws CredentialsRefusedError when the API refuses the grant (the reason says why)
 * @throws StatusApiError when the caller is not an agent (403) or the API fails
 */
export async function exchangeGrant(grantId: string, target: HttpTarget): Promise<ExecutorSession> {
  const response = await signedRequest(
    target,
    'POST',
    `/grants/${encodeURIComponent(grantId)}/credentials`,
    {},
  );
  const body = (response.json ?? {}) as Record<string, unknown>;
  const message = typeof body.message === 'string' ? body.message : response.text.slice(0, 300);
  if (response.status === 200) {
    const c = body.credentials as {
      accessKeyId: string;
      secretAccessKey: string;
      sessionToken: string;
      expiration?: string;
    };
    return {
      credentials: {
        accessKeyId: c.accessKeyId,
        secretAccessKey: c.secretAccessKey,
        sessionToken: c.sessionToken,
        ...(c.expiration ? { expiration: new Date(c.expiration) } : {}),
      },
      roleArn: String(body.roleArn),
      sourceIdentity: String(body.sourceIdentity),
      sessionPolicy: body.sessionPolicy,
      grant: body.grant as ExecutorSession['grant'],
    };
  }
  if (typeof body.error === 'string' && [404, 409, 410, 422].includes(response.status)) {
    throw new CredentialsRefusedError(message, body.error, response.status);
  }
  throw new StatusApiError(`credentials API: HTTP ${response.status}: ${message}`, response.status);
}

/**
 * An AWS SDK credential provider for an approved decision: the first call
 * exchanges its grant, later calls return the same credentials until they
 * expire, then refuse (a grant is single use: ask for a new approval).
 *
 * @throws CredentialsRefusedError at once when the decision is not an approval with a grant
 */
export function credentialsFor(
  decision: Pick<DecisionDetail, 'intentId' | 'status' | 'grant'>,
  target: HttpTarget,
): () => Promise<AwsCredentialIdentity> {
  const grantId = (decision.grant as { grantId?: string } | undefined)?.grantId;
  if (decision.status !== 'APPROVED' || !grantId) {
    throw new CredentialsRefusedError(
      `request ${decision.intentId} is ${decision.status}${decision.status === 'APPROVED' ? ' without a grant' : ''}: no credentials`,
      'not_approved',
      409,
    );
  }
  let session: Promise<ExecutorSession> | undefined;
  return async () => {
    session ??= exchangeGrant(grantId, target);
    const { credentials } = await session;
    if (credentials.expiration && credentials.expiration.getTime() <= Date.now()) {
      throw new CredentialsRefusedError(
        `the credentials of grant ${grantId} expired at ${credentials.expiration.toISOString()}; a grant is single use`,
        'expired',
        410,
      );
    }
    return credentials;
  };
}
