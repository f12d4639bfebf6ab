/**
 * The review core as a Lambda builds it: the request table and audit trail
 * from `COUNTERSIGN_TABLE_NAME`, Step Functions for the task token, and Cedar
 * for who may approve. Read at module load, so a missing variable fails the
 * cold start. A channel's handler adds its identity resolver and notifier.
 */
import { SFNClient } from '@aws-sdk/client-sfn';
import { webInboxUrlFromEnv } from '../identity/step-up.js';
import { auditDepsFromEnv, lambdaClientConfig } from '../shared/aws.js';
import { observed } from '../shared/client-config.js';
import { optionalEnv } from '../shared/env.js';
import type { ReviewCoreDeps, ReviewPolicy } from './contract.js';
import { policyRule } from './eligibility.js';

/** The core's dependencies that come from the environment. */
export type EnvironmentDeps = Omit<ReviewCoreDeps, 'resolveActor' | 'notifier' | 'style' | 'logger'>;

/** Builds the core's clients and policy answers once per cold start. */
export function reviewCoreFromEnv(): EnvironmentDeps {
  return {
    ...auditDepsFromEnv(),
    sfn: observed(new SFNClient(lambdaClientConfig)),
    approverGroup: optionalEnv('COUNTERSIGN_APPROVER_GROUP'),
    ...(webInboxUrlFromEnv() ? { webInboxUrl: webInboxUrlFromEnv() } : {}),
    ...cedarRule(),
  };
}

/**
 * Who may approve is Cedar's answer (with the invariants in code first). The
 * engine is imported on the first vote, so its WebAssembly module is compiled
 * then, not on every cold start of an endpoint that must answer within 3 s.
 */
function cedarRule(): Pick<
  ReviewPolicy,
  'canApprove' | 'policyGroups' | 'evaluateIntent' | 'breakGlassForbids'
> {
  let engine: Promise<typeof import('../shared/policy.js')> | undefined;
  const load = () => {
    engine ??= import('../shared/policy.js');
    return engine;
  };
  return {
    canApprove: async (input) => policyRule((await load()).canApprove)(input),
    policyGroups: async () => (await load()).policyEngine().referencedGroups,
    breakGlassForbids: async (input) => (await load()).policyEngine().approvePoliciesForbid(input),
    // A modification is evaluated again, by the same policies, before it can count.
    evaluateIntent: async (input, defaults) => (await load()).evaluateIntent(input, defaults),
  };
}
