/**
 * The executor proof, offline with @cloud-copilot/iam-simulate on the
 * synthesized stack (test/enforcement/stack-fixture.ts: both executors added,
 * one agent registered). For every catalog entry with a deployed executor:
 * the executor role's policy and the session policy Countersign writes for an
 * approval BOTH allow the approved call; the session policy denies a
 * neighbour (same action on another resource, another action on the same
 * resource, another policy ARN, after the grant's expiry), so the
 * intersection does; the agent's role alone is denied the privileged action;
 * and no principal but the grant function's role may assume an executor role,
 * and it only with a source identity. The simulator does not model session
 * policies, so the role policy and the session policy are evaluated
 * separately, as the issue that asked for this proof prescribes.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { type ApprovedAction, sessionPolicyFor } from '../../lambdas/grant/catalog.js';
import { enforcementStack } from '../enforcement/stack-fixture.js';
import { CATALOG } from '../enforcement/support.js';
import { evaluate, rolePrincipal } from '../proof/simulate.js';
import { ACCOUNT, DeployedStack, type PolicyDocument } from '../proof/template.js';

let deployed: DeployedStack;
let executorIds: Record<string, string>;
let grantRoleId: string;
let agentRoleId: string;

beforeAll(() => {
  const { stack, agentRole } = enforcementStack();
  deployed = new DeployedStack(
    stack,
    Template.fromStack(stack).toJSON() as ConstructorParameters<typeof DeployedStack>[1],
  );
  const id = (c: { node: { defaultChild?: unknown } }) => stack.getLogicalId(c.node.defaultChild as never);
  executorIds = Object.fromEntries(Object.entries(stack.executors.roles).map(([n, r]) => [n, id(r)]));
  grantRoleId = id(stack.statusApi.grantFunction.role as never);
  agentRoleId = id(agentRole);
}, 120_000);

const DEFAULT_KEY_POLICY: PolicyDocument = {
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' },
  ],
} as PolicyDocument;

const EXPIRES = '2026-03-01T12:30:00Z';
const DURING = { 'aws:CurrentTime': '2026-03-01T12:10:00Z' };
const AFTER = { 'aws:CurrentTime': '2026-03-01T12:31:00Z' };

/** One approval per catalog entry, and its neighbours. */
const CASES: Record<
  string,
  {
    approved: ApprovedAction;
    context: Record<string, string>;
    neighbours: { label: string; action: string; resource: string; context: Record<string, string> }[];
  }
> = {
  'iam:AttachRolePolicy': {
    approved: {
      action: 'iam:AttachRolePolicy',
      resource: `arn:aws:iam::${ACCOUNT}:role/payments-deployer`,
      parameters: { policyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' },
    },
    context: { 'iam:PolicyARN': 'arn:aws:iam::aws:policy/ReadOnlyAccess' },
    neighbours: [
      {
        label: 'another role',
        action: 'iam:AttachRolePolicy',
        resource: `arn:aws:iam::${ACCOUNT}:role/billing-admin`,
        context: { 'iam:PolicyARN': 'arn:aws:iam::aws:policy/ReadOnlyAccess' },
      },
      {
        label: 'another policy',
        action: 'iam:AttachRolePolicy',
        resource: `arn:aws:iam::${ACCOUNT}:role/payments-deployer`,
        context: { 'iam:PolicyARN': 'arn:aws:iam::aws:policy/AdministratorAccess' },
      },
      {
        label: 'another action',
        action: 'iam:DetachRolePolicy',
        resource: `arn:aws:iam::${ACCOUNT}:role/payments-deployer`,
        context: { 'iam:PolicyARN': 'arn:aws:iam::aws:policy/ReadOnlyAccess' },
      },
    ],
  },
  'iam:DetachRolePolicy': {
    approved: {
      action: 'iam:DetachRolePolicy',
      resource: `arn:aws:iam::${ACCOUNT}:role/payments-deployer`,
      parameters: { policyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' },
    },
    context: { 'iam:PolicyARN': 'arn:aws:iam::aws:policy/AdministratorAccess' },
    neighbours: [
      {
        label: 'another role',
        action: 'iam:DetachRolePolicy',
        resource: `arn:aws:iam::${ACCOUNT}:role/security-audit`,
        context: { 'iam:PolicyARN': 'arn:aws:iam::aws:policy/AdministratorAccess' },
      },
      {
        label: 'another action',
        action: 'iam:AttachRolePolicy',
        resource: `arn:aws:iam::${ACCOUNT}:role/payments-deployer`,
        context: { 'iam:PolicyARN': 'arn:aws:iam::aws:policy/AdministratorAccess' },
      },
    ],
  },
  'kms:EnableKeyRotation': {
    approved: {
      action: 'kms:EnableKeyRotation',
      resource: `arn:aws:kms:us-east-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`,
      parameters: {},
    },
    context: {},
    neighbours: [
      {
        label: 'another key',
        action: 'kms:EnableKeyRotation',
        resource: `arn:aws:kms:us-east-1:${ACCOUNT}:key/0000abcd-12ab-34cd-56ef-1234567890ab`,
        context: {},
      },
      {
        label: 'another action',
        action: 'kms:DisableKeyRotation',
        resource: `arn:aws:kms:us-east-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`,
        context: {},
      },
    ],
  },
};

/** Evaluates a call as a role of the stack, under its identity policies (or the given ones). */
async function asRole(
  roleId: string,
  call: { action: string; resource: string; context: Record<string, string> },
  policies?: { name: string; policy: PolicyDocument }[],
) {
  const principal = rolePrincipal(deployed, roleId);
  return evaluate({
    principal: principal.principal,
    identityPolicies: policies ?? principal.identityPolicies,
    action: call.action,
    resource: call.resource,
    context: { ...principal.context, ...call.context },
    // A customer key's default key policy: it delegates to the account's IAM policies.
    resourcePolicy: call.action.startsWith('kms:') ? DEFAULT_KEY_POLICY : undefined,
  });
}

describe('executor proof (iam-simulate)', () => {
  it('covers every catalog entry that has a deployed executor', () => {
    const deployedEntries = Object.entries(CATALOG.actions).filter(([, e]) => executorIds[e.executor]);
    expect(deployedEntries.map(([a]) => a).sort()).toEqual(Object.keys(CASES).sort());
  });

  for (const [action, c] of Object.entries(CASES)) {
    describe(action, () => {
      const session = () => {
        const written = sessionPolicyFor(CATALOG.actions[action]!, c.approved, EXPIRES);
        if (!written.ok) throw new Error(written.reason);
        return [{ name: 'session', policy: written.policy as unknown as PolicyDocument }];
      };
      const executor = () => executorIds[CATALOG.actions[action]!.executor]!;
      const approvedCall = {
        action: c.approved.action,
        resource: c.approved.resource,
        context: { ...c.context, ...DURING },
      };

      it('the executor role and the session policy both allow the approved call', async () => {
        expect(await asRole(executor(), approvedCall)).toMatchObject({ allowed: true });
        expect(await asRole(executor(), approvedCall, session())).toMatchObject({ allowed: true });
      });

      it('the session policy denies every neighbour, and the approved call after the grant expired', async () => {
        for (const n of c.neighbours) {
          const verdict = await asRole(executor(), { ...n, context: { ...n.context, ...DURING } }, session());
          expect(verdict.allowed, n.label).toBe(false);
        }
        const late = await asRole(
          executor(),
          { ...approvedCall, context: { ...c.context, ...AFTER } },
          session(),
        );
        expect(late.allowed).toBe(false);
      });

      it('the agent’s role alone is denied the privileged action', async () => {
        expect(await asRole(agentRoleId, approvedCall)).toMatchObject({ allowed: false });
      });
    });
  }

  it('nobody but the grant function may assume an executor role, and it only with a source identity', async () => {
    const roles = deployed.ofType('AWS::IAM::Role');
    for (const [name, executorId] of Object.entries(executorIds)) {
      const roleArn = deployed.attr(executorId, 'Arn');
      const trust = deployed.trustPolicy(executorId);
      for (const roleId of roles) {
        const principal = rolePrincipal(deployed, roleId);
        const verdict = await evaluate({
          principal: principal.principal,
          identityPolicies: principal.identityPolicies,
          action: 'sts:AssumeRole',
          resource: roleArn,
          context: { ...principal.context, 'sts:SourceIdentity': 'intent-0123456789' },
          resourcePolicy: trust,
        });
        expect(verdict.allowed, `${roleId} assuming ${name}`).toBe(roleId === grantRoleId);
      }
      const grant = rolePrincipal(deployed, grantRoleId);
      const withoutSource = await evaluate({
        principal: grant.principal,
        identityPolicies: grant.identityPolicies,
        action: 'sts:AssumeRole',
        resource: roleArn,
        context: grant.context,
        resourcePolicy: trust,
      });
      expect(withoutSource.allowed, `grant function assuming ${name} without a source identity`).toBe(false);
    }
  });
});
