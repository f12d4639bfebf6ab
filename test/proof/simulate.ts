/**
 * Evaluates IAM requests against the deployed stack's policies with
 * @cloud-copilot/iam-simulate: the principal's identity policies and the
 * target's resource policy (bucket, key, bus, queue, Lambda permission, or a
 * role's trust policy for sts:AssumeRole). Session policies are not modelled;
 * Countersign uses none.
 */
import { runSimulation, runUnsafeSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import { ACCOUNT, type DeployedStack, type PolicyDocument } from './template.js';

/** What IAM would answer. */
export interface Verdict {
  allowed: boolean;
  result: string;
}

// The Service Authorization Reference lists no resource type for these, yet
// Step Functions authorizes them against the state machine of the task token
// (its AccessDenied names `...:stateMachine:<name>`); evaluated as AWS does.
const EVALUATED_ON_STATE_MACHINE = new Set([
  'states:SendTaskSuccess',
  'states:SendTaskFailure',
  'states:SendTaskHeartbeat',
]);

/** A principal that is a role of the stack, by logical id. */
export function rolePrincipal(deployed: DeployedStack, roleLogicalId: string, session = 'session') {
  const roleArn = deployed.attr(roleLogicalId, 'Arn');
  const name = roleArn.split('/').pop()!;
  return {
    principal: `arn:aws:sts::${ACCOUNT}:assumed-role/${name}/${session}`,
    identityPolicies: deployed.identityPolicies(roleLogicalId),
    context: {
      'aws:PrincipalArn': roleArn,
      'aws:PrincipalAccount': ACCOUNT,
      'aws:PrincipalType': 'AssumedRole',
    },
  };
}

/** Evaluates one request. `resourcePolicy` defaults to the stack's policy for the resource. */
export async function evaluate(request: {
  principal: string;
  identityPolicies: { name: string; policy: PolicyDocument }[];
  action: string;
  resource: string;
  context: Record<string, string | string[]>;
  resourcePolicy?: PolicyDocument | undefined;
}): Promise<Verdict> {
  const simulation: Simulation = {
    request: {
      principal: request.principal,
      action: request.action,
      resource: { resource: request.resource, accountId: ACCOUNT },
      contextVariables: request.context,
    },
    identityPolicies: request.identityPolicies,
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    ...(request.resourcePolicy ? { resourcePolicy: request.resourcePolicy } : {}),
  };
  if (EVALUATED_ON_STATE_MACHINE.has(request.action)) {
    const result = runUnsafeSimulation(simulation, {});
    return { allowed: result === 'Allowed', result };
  }
  const outcome = await runSimulation(simulation, {});
  if (outcome.resultType === 'error')
    return {
      allowed: false,
      result: `invalid request: ${outcome.errors.message} ${JSON.stringify(outcome.errors)}`,
    };
  return { allowed: outcome.overallResult === 'Allowed', result: outcome.overallResult };
}
