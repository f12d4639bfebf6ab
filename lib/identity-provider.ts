/**
 * Bindings that hand the company IdP's configuration to the functions that
 * need it: the web inbox's URL to every function that renders a review card
 * (a step-up request's Approve links there), and the IdP configuration to the
 * Slack interaction handler, which links Slack users to the IdP by email
 * (through IAM Identity Center's identity store, read-only, when configured).
 */
import { Stack, Token, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { IDENTITY_PROVIDER_ENV, type IdentityProviderConfig } from '../lambdas/identity/config.js';
import { WEB_INBOX_URL_ENV } from '../lambdas/identity/step-up.js';
import type { Binding } from './handler-function.js';

/** `COUNTERSIGN_WEB_INBOX_URL`: where a step-up request's card sends its approvers. */
export function webInboxLink(webInboxUrl: string): Binding {
  return { environment: { [WEB_INBOX_URL_ENV]: webInboxUrl }, grant: () => undefined };
}

/**
 * `COUNTERSIGN_IDENTITY_PROVIDER` (the validated configuration as JSON; the
 * client secret only by ARN or name) and, with an identity store, read access
 * to its users, groups and memberships: GetUserId,
 * ListGroupMembershipsForMember and DescribeGroup, nothing that writes.
 */
export function identityProviderReader(scope: Construct, config: IdentityProviderConfig): Binding {
  return {
    environment: { [IDENTITY_PROVIDER_ENV]: JSON.stringify(config) },
    grant: (grantee) => {
      if (!config.identityStoreId) return;
      const stack = Stack.of(scope);
      const kinds = ['user', 'group', 'membership'];
      iam.Grant.addToPrincipal({
        grantee,
        actions: [
          'identitystore:GetUserId',
          'identitystore:ListGroupMembershipsForMember',
          'identitystore:DescribeGroup',
        ],
        resourceArns: [
          `arn:${stack.partition}:identitystore::${stack.account}:identitystore/${config.identityStoreId}`,
          ...kinds.map((kind) => `arn:${stack.partition}:identitystore:::${kind}/*`),
        ],
      });
      const principal = grantee.grantPrincipal;
      if (!Construct.isConstruct(principal)) return;
      // cdk-nag names a finding by the resource as written: a literal partition, or the pseudo parameter.
      const partition = Token.isUnresolved(stack.partition) ? '<AWS::Partition>' : stack.partition;
      Validations.of(principal).acknowledge(
        ...kinds.map((kind) => ({
          id: `AwsSolutions-IAM5[Resource::arn:${partition}:identitystore:::${kind}/*]`,
          reason:
            'Identity store users, groups and memberships have ARNs without the store id (arn:aws:identitystore:::user/<id>), so they cannot be named in advance; the actions are read-only, the identity store itself is named exactly, and the person looked up is the one whose verified email is being linked.',
        })),
      );
    },
  };
}
