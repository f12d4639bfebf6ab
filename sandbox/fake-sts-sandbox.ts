/**
 * Enforcement in the sandbox: the fake STS (and IAM) the grant exchange and
 * the demo use, the executor roles the sandbox stack registers, and the
 * credentials route's identity rule.
 *
 * IAM is not evaluated in the sandbox, so the caller of
 * `POST /grants/<id>/credentials` is read from the SigV4 `Authorization`
 * header's access key id without checking the signature: `sandbox-<agentId>`
 * is the role session of that registered agent. Every IAM call served by the
 * fake is recorded as CloudTrail would and put on the default bus
 * ("AWS API Call via CloudTrail"), where the detector's synthesized rule
 * picks it up.
 */
import { STSClient } from '@aws-sdk/client-sts';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Catalog } from '../lambdas/grant/catalog.js';
import { type ExchangeDeps, exchangeForCaller } from '../lambdas/grant/exchange.js';
import type { StoreDeps } from '../lambdas/shared/store.js';
import type { ApiAnswer } from '../lambdas/status/caller.js';
import { parseAgentRoles } from '../lambdas/status/caller.js';
import { type CloudTrailEvent, type FakeSts, startFakeSts } from './fake-sts.js';

/** The account of the sandbox's executor roles, agent roles and fake IAM. */
export const SANDBOX_ACCOUNT = '123456789012';
/** The access key the sandbox's grant exchange signs STS calls with (the grant function's). */
export const GRANT_FUNCTION_KEY = 'AKIASANDBOXGRANTFUNCTION';
/** The long-term key of the sandbox's "legacy admin", a principal that holds IAM permissions without Countersign. */
export const LEGACY_ADMIN_KEY = 'AKIASANDBOXLEGACYADMIN';

/** The access key id that speaks for a sandbox agent. */
export const agentAccessKey = (agentId: string) => `sandbox-${agentId}`;
/** The role of a sandbox agent. */
export const agentRoleArn = (agentId: string) =>
  `arn:aws:iam::${SANDBOX_ACCOUNT}:role/sandbox-agent-${agentId}`;
/** The role ARN of an executor in the sandbox. */
export const executorRoleArn = (name: string) =>
  `arn:aws:iam::${SANDBOX_ACCOUNT}:role/countersign-executor-${name}`;

/** The privileged statements of the executors the sandbox stack registers (classes of resources). */
export function sandboxExecutorStatements(): Record<string, iam.PolicyStatement[]> {
  return {
    'iam-changes': [
      new iam.PolicyStatement({
        actions: ['iam:AttachRolePolicy', 'iam:DetachRolePolicy'],
        resources: [`arn:aws:iam::${SANDBOX_ACCOUNT}:role/*`],
      }),
    ],
    'kms-operations': [
      new iam.PolicyStatement({
        actions: ['kms:EnableKeyRotation'],
        resources: [`arn:aws:kms:*:${SANDBOX_ACCOUNT}:key/*`],
      }),
    ],
  };
}

/** The running enforcement parts of a sandbox. */
export interface SandboxEnforcement {
  sts: FakeSts;
  /** Executor name → role ARN, as `COUNTERSIGN_EXECUTORS`. */
  executors: Record<string, string>;
  /** The environment the detector handler reads. */
  env(): Record<string, string>;
  /** `POST /grants/<id>/credentials` for the caller whose access key signed the request. */
  exchange(grantId: string, accessKeyId: string | undefined): Promise<ApiAnswer>;
  close(): Promise<void>;
}

/** Starts the fake STS/IAM with the sandbox's executors and agents. */
export async function startSandboxEnforcement(options: {
  catalog: Catalog;
  /** Executors the synthesized stack registered. */
  executorNames: string[];
  agentIds: string[];
  store: StoreDeps;
  /** Puts a CloudTrail event on the default bus. */
  putCloudTrail: (event: CloudTrailEvent) => void;
}): Promise<SandboxEnforcement> {
  const executors = Object.fromEntries(options.executorNames.map((n) => [n, executorRoleArn(n)]));
  const agentByKey = new Map(options.agentIds.map((id) => [agentAccessKey(id), id]));
  const sts = await startFakeSts({
    account: SANDBOX_ACCOUNT,
    trust: Object.fromEntries(Object.values(executors).map((arn) => [arn, [GRANT_FUNCTION_KEY]])),
    onCloudTrail: options.putCloudTrail,
    principalOf: (key) => {
      const agentId = agentByKey.get(key);
      if (agentId) return `arn:aws:sts::${SANDBOX_ACCOUNT}:assumed-role/sandbox-agent-${agentId}/sandbox`;
      if (key === LEGACY_ADMIN_KEY) return `arn:aws:iam::${SANDBOX_ACCOUNT}:user/legacy-admin`;
      return undefined;
    },
  });
  const deps: ExchangeDeps = {
    ...options.store,
    now: () => new Date(),
    agentRoles: parseAgentRoles(
      JSON.stringify(options.agentIds.map((agentId) => ({ roleArn: agentRoleArn(agentId), agentId }))),
    ),
    catalog: options.catalog,
    executors,
    sts: new STSClient({
      endpoint: sts.url,
      region: 'us-east-1',
      credentials: { accessKeyId: GRANT_FUNCTION_KEY, secretAccessKey: 'sandbox' },
    }),
  };
  return {
    sts,
    executors,
    env: () => ({
      AWS_ENDPOINT_URL_STS: sts.url,
      COUNTERSIGN_ENFORCEMENT_CATALOG: JSON.stringify(options.catalog),
      COUNTERSIGN_EXECUTORS: JSON.stringify(executors),
      COUNTERSIGN_OWN_ROLES: JSON.stringify([
        `arn:aws:iam::${SANDBOX_ACCOUNT}:role/countersign-grant-function`,
      ]),
    }),
    exchange: (grantId, accessKeyId) => {
      const agentId = accessKeyId ? agentByKey.get(accessKeyId) : undefined;
      const callerArn = agentId
        ? `arn:aws:sts::${SANDBOX_ACCOUNT}:assumed-role/sandbox-agent-${agentId}/sandbox`
        : accessKeyId;
      return exchangeForCaller(deps, { grantId, callerArn });
    },
    close: () => sts.close(),
  };
}
