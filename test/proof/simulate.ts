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

// The authorization data types these as lists (a PutEvents call can carry
// several entries), but EventBridge authorizes each entry on its own, with one
// value, and documents them as single-valued. A single-valued operator on one
// value is the same test as its set-operator form on a one-element list, so
// statements on these keys are rewritten to the set form before evaluation.
const PER_ENTRY_KEYS = new Set(['events:source', 'events:detail-type']);
const SET_FORM: Record<string, string> = {
  StringEquals: 'ForAnyValue:StringEquals',
  StringLike: 'ForAnyValue:StringLike',
  StringEqualsIgnoreCase: 'ForAnyValue:StringEqualsIgnoreCase',
  StringNotEquals: 'ForAllValues:StringNotEquals',
  StringNotLike: 'ForAllValues:StringNotLike',
  StringNotEqualsIgnoreCase: 'ForAllValues:StringNotEqualsIgnoreCase',
};

function perEntry(policy: PolicyDocument | undefined): PolicyDocument | undefined {
  if (!policy) return policy;
  const statements = policy.Statement.map((statement) => {
    const conditions = statement.Condition as Record<string, Record<string, unknown>> | undefined;
    if (!conditions) return statement;
    const rewritten: Record<string, Record<string, unknown>> = {};
    for (const [operator, keys] of Object.entries(conditions)) {
      for (const [key, value] of Object.entries(keys)) {
        let target = operator;
        if (PER_ENTRY_KEYS.has(key.toLowerCase())) {
          target = SET_FORM[operator] ?? '';
          if (!target) throw new Error(`no per-entry form for ${operator} on ${key}`);
        }
        rewritten[target] = { ...rewritten[target], [key]: value };
      }
    }
    return { ...statement, Condition: rewritten };
  });
  return { ...policy, Statement: statements };
}

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
  const events = request.action.startsWith('events:');
  const identityPolicies = events
    ? request.identityPolicies.map((p) => ({ ...p, policy: perEntry(p.policy)! }))
    : request.identityPolicies;
  const resourcePolicy = events ? perEntry(request.resourcePolicy) : request.resourcePolicy;
  const simulation: Simulation = {
    request: {
      principal: request.principal,
      action: request.action,
      resource: { resource: request.resource, accountId: ACCOUNT },
      contextVariables: request.context,
    },
    identityPolicies,
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    ...(resourcePolicy ? { resourcePolicy } : {}),
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
